"""The one crash signature, on real sanitizer output (compiled here) and on report texts.

The adversary: two PoCs of one bug must not look like two bugs, and two different bugs in the
same function must not look like one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clearinghouse.sandbox.signature import crash_signature, is_signature

PROGRAM = r"""
#include <stdlib.h>
#include <string.h>
static int read_field(const char *in, char *out) {
    size_t n = (unsigned char)in[0];
    memcpy(out, in + 1, n);
    return (int)n;
}
static int use_after_free(const char *in) {
    char *buf = malloc(8);
    free(buf);
    return buf[(unsigned char)in[0] % 8];
}
int parse_record(const char *in, int mode) {
    if (mode == 1) return use_after_free(in);
    char *buf = malloc(8);
    int n = read_field(in, buf);
    free(buf);
    return n;
}
int main(int argc, char **argv) {
    char in[300] = {0};
    in[0] = (char)atoi(argv[1]);
    return parse_record(in, atoi(argv[2])) > 1000;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    root = tmp_path_factory.mktemp("asan")
    (root / "p.c").write_text(PROGRAM)
    exe = root / "p"
    subprocess.run(
        ["gcc", "-g", "-O0", "-fsanitize=address", "-o", str(exe), str(root / "p.c")], check=True
    )
    return exe


def _report(exe: Path, *args: str) -> str:
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    return r.stderr


def test_two_pocs_of_one_bug_share_a_signature(program: Path) -> None:
    small, large = _report(program, "20", "0"), _report(program, "200", "0")
    assert small != large  # different sizes, addresses and shadow bytes
    assert crash_signature(small) == crash_signature(large)
    assert crash_signature(small) == "heap-buffer-overflow@read_field|parse_record|main"


def test_different_bugs_differ(program: Path) -> None:
    overflow = crash_signature(_report(program, "20", "0"))
    uaf = crash_signature(_report(program, "3", "1"))
    assert uaf == "heap-use-after-free@use_after_free|parse_record|main"
    assert overflow != uaf


def test_signatures_are_what_triage_accepts(program: Path) -> None:
    for args in (("20", "0"), ("3", "1")):
        sig = crash_signature(_report(program, *args))
        assert sig is not None and is_signature(sig)


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("no sanitizer here\n", None),
        (
            "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000\n"
            "    #0 0x55 in parse_hdr /src/x.c:3\n    #1 0x56 in main /src/x.c:9\n",
            "segv@parse_hdr|main",
        ),
        (
            "==1==ERROR: AddressSanitizer: attempting double-free on 0x602 in thread T0:\n"
            "    #0 0x7f in __interceptor_free ../libsanitizer/asan/asan_malloc_linux.cpp:52\n"
            "    #1 0x55 in release /src/x.c:3\n",
            "attempting-double-free@release",
        ),
        (
            "x.c:12:5: runtime error: signed integer overflow: 2147483647 + 1\n"
            "    #0 0x55 in add /src/x.c:12\n    #1 0x56 in main /src/x.c:20\n",
            "signed-integer-overflow@add|main",
        ),
        (
            "==1==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd\n"
            "    #0 0x55 in recurse(int) /src/x.cc:3\n    #1 0x55 in recurse(int) /src/x.cc:3\n"
            "    #2 0x55 in std::vector<int>::at(unsigned long) /src/x.cc:3\n",
            "stack-overflow@recurse|std::vector::at",
        ),
    ],
)
def test_report_texts(report: str, expected: str | None) -> None:
    assert crash_signature(report) == expected
    if expected is not None:
        assert is_signature(expected)


def test_hostile_text_never_breaks_the_pattern() -> None:
    sig = crash_signature(
        "ERROR: AddressSanitizer: heap-buffer-overflow on x\n"
        "    #0 0x1 in ;rm${IFS}-rf /src/x.c:1\n    #1 0x2 in 123abc /src/x.c:2\n"
    )
    assert sig is not None and is_signature(sig), sig
