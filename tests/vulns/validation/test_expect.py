"""The `expect` matchers, judged on observations: what counts as reproduced, and what does not
(a sanitizer name printed on stdout, an exception that was caught, a different exception)."""

from __future__ import annotations

import time

import pytest

from clearinghouse.vulns.validation.errors import RecipeInvalid
from clearinghouse.vulns.validation.expect import (
    Observation,
    Undecidable,
    judge,
    last_exception,
    parse_expect,
    regex_search,
)
from clearinghouse.vulns.validation.schemas import EVIDENCE_CHARS

ASAN = """=================================================================
==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x604000000010 at pc 0x1
READ of size 4 at 0x604000000010 thread T0
    #0 0x55 in lookup /workspace/src/sessions.c:24
    #1 0x56 in show_session /workspace/src/sessions.c:53
    #2 0x57 in main /workspace/src/sessions.c:83
    #3 0x7f in __libc_start_call_main ../sysdeps/nptl/libc_start_call_main.h:58

SUMMARY: AddressSanitizer: heap-use-after-free
"""
UBSAN = """chunks.c:20:19: runtime error: signed integer overflow: 8 + 2147483644 cannot be represented in type 'int'
    #0 0x5 in chunk_end /workspace/src/chunks.c:20
    #1 0x6 in check_chunks /workspace/src/chunks.c:33
    #2 0x7 in main /workspace/src/chunks.c:49
"""
TRACEBACK = """Traceback (most recent call last):
  File "/workspace/poc/poc.py", line 3, in <module>
    raise KeyError("x")
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/workspace/poc/poc.py", line 5, in <module>
    raise jwt.exceptions.InvalidKeyError("no")
jwt.exceptions.InvalidKeyError: no
"""


def obs(stdout: str = "", stderr: str = "", rc: int = 0, timed_out: bool = False) -> Observation:
    return Observation(rc, stdout, stderr, timed_out)


def test_asan_reproduces_with_the_one_signature() -> None:
    verdict = judge(parse_expect("asan"), obs(stderr="noise\n" + ASAN, rc=1))
    assert verdict.matched and verdict.crash_type == "heap-use-after-free"
    assert verdict.signature == "heap-use-after-free@lookup|show_session|main"
    assert verdict.evidence.startswith("==7==ERROR: AddressSanitizer")  # the noise is dropped


def test_a_sanitizer_report_on_stdout_or_a_ubsan_report_is_not_asan() -> None:
    assert not judge(parse_expect("asan"), obs(stdout=ASAN, rc=1)).matched
    assert not judge(parse_expect("asan"), obs(stderr=UBSAN, rc=1)).matched
    ubsan = judge(parse_expect("ubsan"), obs(stderr=UBSAN, rc=1))
    assert (
        ubsan.matched and ubsan.signature == "signed-integer-overflow@chunk_end|check_chunks|main"
    )


def test_exit_code_and_timeout() -> None:
    assert judge(parse_expect("exit-code:3"), obs(rc=3)).matched
    assert not judge(parse_expect("exit-code:3"), obs(rc=0)).matched
    assert not judge(parse_expect("exit-code:124"), obs(rc=124, timed_out=True)).matched
    assert judge(parse_expect("timeout"), obs(rc=124, timed_out=True)).crash_type == "timeout"
    assert judge(parse_expect("timeout"), obs(rc=128 + 24)).matched  # SIGXCPU: the CPU limit
    assert not judge(parse_expect("timeout"), obs(rc=1)).matched


def test_python_exception_is_the_one_the_process_died_on() -> None:
    assert last_exception(TRACEBACK) is not None
    for name in ("InvalidKeyError", "jwt.exceptions.InvalidKeyError"):
        verdict = judge(parse_expect(f"python-exception:{name}"), obs(stderr=TRACEBACK, rc=1))
        assert verdict.matched and verdict.crash_type == "jwt.exceptions.InvalidKeyError"
    # The first exception was handled: it is not what the process died on.
    assert not judge(parse_expect("python-exception:KeyError"), obs(stderr=TRACEBACK)).matched
    assert not judge(
        parse_expect("python-exception:other.InvalidKeyError"), obs(stderr=TRACEBACK)
    ).matched
    assert not judge(parse_expect("python-exception:KeyError"), obs(stdout=TRACEBACK)).matched


def test_stdout_regex_is_multiline_and_its_evidence_is_the_line() -> None:
    verdict = judge(parse_expect("stdout-regex:^FORGED"), obs(stdout="first\nFORGED token\nlast"))
    assert verdict.matched and verdict.evidence.endswith("FORGED token")
    assert not judge(parse_expect("stdout-regex:^FORGED"), obs(stdout="NOT FORGED")).matched


def test_a_catastrophic_regex_cannot_hang_the_validator() -> None:
    started = time.monotonic()
    with pytest.raises(Undecidable):
        regex_search("(a+)+$", "a" * 64 + "b", seconds=1)
    assert time.monotonic() - started < 10


def test_evidence_is_bounded_and_printable() -> None:
    noisy = "\x1b[31m\x00" + "x" * (3 * EVIDENCE_CHARS)
    verdict = judge(parse_expect("exit-code:0"), obs(stdout=noisy, stderr=noisy))
    assert len(verdict.evidence) <= EVIDENCE_CHARS
    assert "\x00" not in verdict.evidence and "\x1b" not in verdict.evidence


@pytest.mark.parametrize(
    "text",
    [
        "",
        "asan ",
        "ASAN",
        "exit-code:-1",
        "exit-code:1x",
        "timeout:5",
        "stdout-regex:",
        "python-exception:1Error",
    ],
)
def test_malformed_expectations_are_refused(text: str) -> None:
    with pytest.raises(RecipeInvalid) as caught:
        parse_expect(text)
    assert caught.value.code in ("expect_unknown", "expect_invalid")


def test_expectations_print_as_written() -> None:
    for text in (
        "asan",
        "ubsan",
        "timeout",
        "exit-code:7",
        "stdout-regex:a:b",
        "python-exception:x.Y",
    ):
        assert str(parse_expect(text)) == text
