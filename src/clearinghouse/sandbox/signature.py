"""The one crash signature: what a sanitizer report says crashed, in a form two reports of the
same bug share and two different bugs do not.

Format: `<crash type>@<frame>[|<frame>...]`, the sanitizer's error type (lower case) and up to
`FRAMES` function names from the program's own code, innermost first, with the sanitizer
runtime, libc and the process start-up left out. For example
`heap-buffer-overflow@tlv_read|parse_record|main`. The battery's PoC scorer, triage and dedup
all use this function and this pattern; nothing else makes signatures.

Written by hand: sanitizer report parsing is a few lines, and no maintained Python library does
it.
"""

from __future__ import annotations

import re

FRAMES = 3
SIGNATURE_PATTERN = re.compile(
    r"[a-z0-9][a-z0-9-]{0,63}@[A-Za-z_][A-Za-z0-9_:.~]{0,80}(\|[A-Za-z_][A-Za-z0-9_:.~]{0,80}){0,7}"
)

_ERROR = re.compile(
    r"ERROR: (?:Address|Undefined|Memory|Leak|Thread)Sanitizer: (.{1,80}?)(?: on | \(|:|$)",
    re.MULTILINE,
)
_RUNTIME_ERROR = re.compile(r": runtime error: ([a-z][a-z ]{2,60}?)(?: of | in |:|$)")
_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-fA-F]+ in ([^\s(]+)(?:\([^)]*\))?(?: (\S+))?")
_RUNTIME_FUNCTIONS = re.compile(
    r"^(__asan|__ubsan|__sanitizer|__interceptor|__interception|__lsan|__msan|__tsan"
    r"|__libc_start|_start$|__GI_|___interceptor|___asan)"
)
_RUNTIME_FILES = re.compile(
    r"(compiler-rt|sanitizer_common|/libc\b|libc\.so|libasan|libubsan|/usr/)"
)


def _normal_type(raw: str) -> str:
    kind = raw.strip().lower().replace(" ", "-").replace("_", "-")
    if kind.startswith("segv"):
        return "segv"
    return re.sub(r"[^a-z0-9-]", "", kind)[:64] or "unknown"


def _normal_frame(name: str) -> str:
    name = re.sub(r"<[^<>]*>", "", name)  # C++ template arguments
    name = name.split("(")[0]
    name = re.sub(r"[^A-Za-z0-9_:.~]", "", name)
    if name and not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return name[:80]


def crash_signature(report: str, *, frames: int = FRAMES) -> str | None:
    """The signature of the first error in a sanitizer report, or None when it holds none."""
    error = _ERROR.search(report)
    runtime = _RUNTIME_ERROR.search(report)
    if error is None and runtime is None:
        return None
    kind = _normal_type(error.group(1) if error else runtime.group(1))  # type: ignore[union-attr]
    start = (error or runtime).start()  # type: ignore[union-attr]
    found: list[str] = []
    for line in report[start:].splitlines()[1:]:
        match = _FRAME.match(line)
        if match is None:
            if found and not line.strip():
                break  # the first stack ends at a blank line
            continue
        function, location = match.group(1), match.group(2) or ""
        if _RUNTIME_FUNCTIONS.match(function) or _RUNTIME_FILES.search(location):
            continue
        frame = _normal_frame(function)
        if frame and (not found or found[-1] != frame):
            found.append(frame)
        if len(found) == frames:
            break
    return f"{kind}@{'|'.join(found) if found else 'unknown'}"


def is_signature(value: str) -> bool:
    return SIGNATURE_PATTERN.fullmatch(value) is not None
