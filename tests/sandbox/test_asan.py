"""ASan build and run helpers, on the bubblewrap sandbox (what validation and patch
verification will use) rather than through Inspect.

The adversary: an input that does not crash must not be called a crash, a crash's signature
must be the one triage accepts, and code that does not compile is a failed build, not a crash.
"""

from __future__ import annotations

import asyncio

from clearinghouse.sandbox import asan
from clearinghouse.sandbox.bwrap import Limits, Sandbox
from clearinghouse.sandbox.signature import is_signature
from tests.support.needs import needs_bwrap, needs_gcc

pytestmark = [needs_bwrap, needs_gcc]

PROGRAM = rb"""
#include <stdio.h>
#include <stdlib.h>
static void copy_field(const unsigned char *in, size_t n) {
    char *buf = malloc(4);
    for (size_t i = 0; i < n; i++) buf[i] = (char)in[i];
    free(buf);
}
int main(int argc, char **argv) {
    unsigned char in[64];
    FILE *f = fopen(argv[1], "rb");
    size_t n = fread(in, 1, sizeof in, f);
    fclose(f);
    copy_field(in, n);
    puts("ok");
    return 0;
}
"""


def test_build_and_run_in_the_bwrap_sandbox() -> None:
    with Sandbox(limits=Limits(wall_seconds=120)) as box:
        box.put_file("src/prog.c", PROGRAM)
        box.put_file("short.bin", b"abc")
        box.put_file("long.bin", b"A" * 32)

        async def steps() -> tuple[asan.Build, asan.Run, asan.Run]:
            built = await asan.build(box, "src", "prog")
            benign = await asan.run(box, "/workspace/src/prog", "/workspace/short.bin")
            crash = await asan.run(box, "/workspace/src/prog", "/workspace/long.bin")
            return built, benign, crash

        built, benign, crash = asyncio.run(steps())
    assert built.ok, built.log
    assert not benign.crashed and benign.signature() is None
    assert crash.crashed
    signature = crash.signature()
    assert signature is not None and is_signature(signature)
    assert signature.startswith("heap-buffer-overflow@copy_field|main")


def test_code_that_does_not_compile_is_a_failed_build() -> None:
    with Sandbox(limits=Limits(wall_seconds=120)) as box:
        box.put_file("src/bad.c", b"int main(void) { return undefined_name; }\n")
        built = asyncio.run(asan.build(box, "src", "bad"))
    assert not built.ok and "undefined_name" in built.log
