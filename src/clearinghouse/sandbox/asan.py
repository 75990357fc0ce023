"""Building C programs under AddressSanitizer and running them on an input, inside a sandbox.

The battery's PoC and patch scorers use it; validation, patch verification and scanning run the
same steps. It works on anything with the sandbox's `exec`: the bubblewrap `Sandbox`
(`sandbox.bwrap`) or an Inspect sandbox environment (`sandbox.inspect_plugin`). A crash's
signature is `signature.crash_signature`, the one signature function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from clearinghouse.sandbox.signature import crash_signature

FLAGS = ("-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O0", "-w")
ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:symbolize=1"}
BUILD = "gcc " + " ".join(FLAGS) + " -o {out} {src}"
BUILD_SECONDS = 120
RUN_SECONDS = 60


class ExecResult(Protocol):
    @property
    def returncode(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...


class Executor(Protocol):
    """What the helpers need of a sandbox: run a command in it."""

    async def exec(
        self,
        cmd: list[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: int | None = None,
    ) -> ExecResult: ...


@dataclass(frozen=True)
class Build:
    ok: bool
    log: str  # the end of the compiler's stderr


@dataclass(frozen=True)
class Run:
    crashed: bool  # AddressSanitizer reported an error
    report: str  # the start of stderr, where the sanitizer report is

    def signature(self) -> str | None:
        """The crash's signature (`signature.crash_signature`), or None when it did not crash."""
        return crash_signature(self.report) if self.crashed else None


async def build(box: Executor, directory: str, name: str) -> Build:
    """Compile `<directory>/<name>.c` into `<directory>/<name>` with AddressSanitizer."""
    result = await box.exec(
        ["/bin/sh", "-c", BUILD.format(out=name, src=name + ".c")],
        cwd=directory,
        timeout=BUILD_SECONDS,
    )
    return Build(result.returncode == 0, result.stderr[-2000:])


async def run(box: Executor, exe: str, input_path: str) -> Run:
    """Run an ASan build on one input file and say whether the sanitizer reported an error."""
    result = await box.exec([exe, input_path], env=ENV, timeout=RUN_SECONDS)
    return Run("ERROR: AddressSanitizer" in result.stderr, result.stderr[:4000])
