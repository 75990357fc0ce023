"""What a proof of concept must show: the recipe's `expect`, and how a run is judged against it.

| expect               | reproduced when                                                        |
|----------------------|------------------------------------------------------------------------|
| `asan`               | AddressSanitizer reported an error (`ERROR: AddressSanitizer`)        |
| `ubsan`              | UndefinedBehaviorSanitizer reported one (`runtime error:`)            |
| `exit-code:N`        | the run command exited with status N (0-255)                          |
| `stdout-regex:RE`    | Python regular expression RE (multi-line mode) matches the output     |
| `timeout`            | the run was killed for wall time, or for CPU time (SIGXCPU)           |
| `python-exception:N` | the run ended on an uncaught Python exception named N (`Error` or     |
|                      | `pkg.mod.Error`; a bare name matches the last part of a dotted one)    |

A sanitizer's report also gives the crash signature, through `sandbox.signature.crash_signature`,
the one signature function (the battery and dedup use it too).

The regular expression is the recipe author's, and the output it runs on is the PoC's: a
pattern with catastrophic backtracking must not hang the validator. Python's `re` has no time
limit (the maintained engines that do are not dependencies of ours), so the search runs in a
child interpreter that is killed after `REGEX_SECONDS`, on at most `OUTPUT_CHARS` of output.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import dataclass

from clearinghouse.sandbox.signature import crash_signature
from clearinghouse.vulns.validation.errors import RecipeInvalid
from clearinghouse.vulns.validation.schemas import EVIDENCE_CHARS

KINDS = ("asan", "ubsan", "exit-code", "stdout-regex", "timeout", "python-exception")
MAX_EXPECT_CHARS = 1000
OUTPUT_CHARS = 1024 * 1024  # of stdout that a stdout-regex is searched in
REGEX_SECONDS = 5.0
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SIGXCPU_STATUSES = {128 + signal.SIGXCPU, -signal.SIGXCPU}


class Undecidable(Exception):
    """The expectation could not be evaluated (a regular expression ran out of time)."""


@dataclass(frozen=True)
class Expectation:
    kind: str
    exit_code: int | None = None
    pattern: str | None = None
    exception: str | None = None

    def __str__(self) -> str:
        if self.kind == "exit-code":
            return f"exit-code:{self.exit_code}"
        if self.kind == "stdout-regex":
            return f"stdout-regex:{self.pattern}"
        if self.kind == "python-exception":
            return f"python-exception:{self.exception}"
        return self.kind


def parse_expect(text: object) -> Expectation:
    """The expectation named by `text`, or RecipeInvalid (`expect_unknown`, `expect_invalid`)."""
    if not isinstance(text, str):
        raise RecipeInvalid("poc.expect must be a string", code="expect_invalid")
    if len(text) > MAX_EXPECT_CHARS:
        raise RecipeInvalid(
            f"poc.expect is at most {MAX_EXPECT_CHARS} characters", code="expect_invalid"
        )
    kind, sep, arg = text.partition(":")
    if kind not in KINDS:
        raise RecipeInvalid(
            f"poc.expect must be one of {', '.join(KINDS)} (with an argument for exit-code, "
            "stdout-regex and python-exception)",
            code="expect_unknown",
        )
    takes_arg = kind in ("exit-code", "stdout-regex", "python-exception")
    if takes_arg != bool(sep):
        need = "needs an argument after ':'" if takes_arg else "takes no argument"
        raise RecipeInvalid(f"poc.expect {kind} {need}", code="expect_invalid")
    if kind == "exit-code":
        if not re.fullmatch(r"[0-9]{1,3}", arg) or int(arg) > 255:
            raise RecipeInvalid("exit-code:N needs N from 0 to 255", code="expect_invalid")
        return Expectation(kind, exit_code=int(arg))
    if kind == "stdout-regex":
        if not arg or "\x00" in arg:
            raise RecipeInvalid("stdout-regex needs a non-empty pattern", code="expect_invalid")
        try:
            re.compile(arg, re.MULTILINE)
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            raise RecipeInvalid(
                f"stdout-regex is not a valid regular expression: {exc}", code="expect_invalid"
            ) from None
        return Expectation(kind, pattern=arg)
    if kind == "python-exception":
        if not _EXCEPTION_NAME.fullmatch(arg) or len(arg) > 200:
            raise RecipeInvalid(
                "python-exception needs an exception name such as ValueError or "
                "yaml.constructor.ConstructorError",
                code="expect_invalid",
            )
        return Expectation(kind, exception=arg)
    return Expectation(kind)


@dataclass(frozen=True)
class Observation:
    """What one run of the PoC did."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass(frozen=True)
class Judgement:
    matched: bool
    crash_type: str | None
    signature: str | None
    evidence: str


def clean(text: str) -> str:
    """Output made storable and printable: control characters other than tab and newline
    become U+FFFD (a report may hold escape sequences or NUL bytes)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "\ufffd", text)


def bounded(text: str, limit: int = EVIDENCE_CHARS) -> str:
    text = clean(text)
    if len(text) <= limit:
        return text
    marker = "\n[... cut ...]\n"
    half = (limit - len(marker)) // 2
    return text[:half] + marker + text[-half:]


def _from_marker(text: str, markers: tuple[str, ...]) -> str:
    """The text from the start of the first line holding one of `markers`."""
    starts = [i for i in (text.find(m) for m in markers) if i >= 0]
    if not starts:
        return text
    start = text.rfind("\n", 0, min(starts)) + 1
    return text[start:]


def _plain_evidence(obs: Observation) -> str:
    status = "killed for time" if obs.timed_out else f"exit status {obs.returncode}"
    half = (EVIDENCE_CHARS - 200) // 2
    return bounded(
        f"{status}\n--- stdout ---\n{bounded(obs.stdout, half)}\n"
        f"--- stderr ---\n{bounded(obs.stderr, half)}"
    )


_REGEX_CHILD = (
    "import json, re, sys\n"
    "pattern, text = json.loads(sys.stdin.buffer.read())\n"
    "m = re.search(pattern, text, re.MULTILINE)\n"
    "print(json.dumps(m.span() if m else None))\n"
)


def regex_search(
    pattern: str, text: str, *, seconds: float = REGEX_SECONDS
) -> tuple[int, int] | None:
    """The span of the first match of `pattern` in `text`, searched in a child interpreter that
    is killed after `seconds` (then Undecidable)."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _REGEX_CHILD],
            input=json.dumps([pattern, text]).encode(),
            capture_output=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        raise Undecidable(f"stdout-regex did not finish within {seconds:.0f}s") from None
    if done.returncode != 0:
        raise Undecidable("stdout-regex could not be evaluated")
    span = json.loads(done.stdout)
    return None if span is None else (int(span[0]), int(span[1]))


def last_exception(stderr: str) -> tuple[str, str] | None:
    """(name, the traceback) of the exception a Python process died on, from its stderr."""
    start = stderr.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    for line in stderr[start:].splitlines()[1:]:
        if line and not line[0].isspace():
            name = line.split(":", 1)[0].strip()
            if _EXCEPTION_NAME.fullmatch(name):
                return name, stderr[start:]
            return None
    return None


def _names_match(expected: str, observed: str) -> bool:
    if "." in expected:
        return observed == expected
    return observed.rsplit(".", 1)[-1] == expected


def judge(expectation: Expectation, obs: Observation) -> Judgement:
    """Did this run show what the recipe expects? With the crash type, the signature (sanitizer
    reports only) and the evidence."""
    kind = expectation.kind
    if kind in ("asan", "ubsan"):
        if kind == "asan":
            markers: tuple[str, ...] = ("ERROR: AddressSanitizer",)
        else:
            markers = (": runtime error: ", "ERROR: UndefinedBehaviorSanitizer")
        if any(m in obs.stderr for m in markers):
            report = _from_marker(obs.stderr, markers)
            signature = crash_signature(report)
            crash_type = signature.split("@", 1)[0] if signature else None
            return Judgement(True, crash_type, signature, bounded(report))
        return Judgement(False, None, None, _plain_evidence(obs))
    if kind == "timeout":
        if obs.timed_out or obs.returncode in _SIGXCPU_STATUSES:
            return Judgement(True, "timeout", None, _plain_evidence(obs))
        return Judgement(False, None, None, _plain_evidence(obs))
    if kind == "exit-code":
        matched = not obs.timed_out and obs.returncode == expectation.exit_code
        return Judgement(matched, None, None, _plain_evidence(obs))
    if kind == "stdout-regex":
        assert expectation.pattern is not None
        text = obs.stdout[:OUTPUT_CHARS]
        span = regex_search(expectation.pattern, text)
        if span is None:
            return Judgement(False, None, None, _plain_evidence(obs))
        line_start = text.rfind("\n", 0, span[0]) + 1
        line_end = text.find("\n", span[1])
        excerpt = text[line_start : line_end if line_end >= 0 else len(text)]
        evidence = f"stdout matched {expectation.pattern!r}:\n{excerpt}"
        return Judgement(True, None, None, bounded(evidence))
    assert kind == "python-exception" and expectation.exception is not None
    found = last_exception(obs.stderr)
    if found is not None and _names_match(expectation.exception, found[0]):
        return Judgement(True, found[0], None, bounded(found[1]))
    return Judgement(False, None, None, _plain_evidence(obs))
