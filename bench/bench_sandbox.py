"""Sandbox start-to-exec latency and throughput.

Peers, in the same run: raw `bwrap --unshare-all ... true` (the floor for any bwrap sandbox) and
Inspect's `local` sandbox (a plain subprocess: no isolation, the lower bound). Target: p50 < 15 ms
over raw bwrap's start-to-exec cost (TARGETS.md: "Sandbox start-to-exec p50 < 15 ms").
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median, pct

from clearinghouse.sandbox.bwrap import Sandbox

N = 60


def time_ours(box: Sandbox) -> list[float]:
    out = []
    for _ in range(N):
        t = time.perf_counter()
        box.run(["true"])
        out.append(time.perf_counter() - t)
    return out


def time_raw_bwrap() -> list[float]:
    argv = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    out = []
    for _ in range(N):
        t = time.perf_counter()
        subprocess.run(argv, check=True)
        out.append(time.perf_counter() - t)
    return out


def time_inspect_local() -> list[float]:
    from inspect_ai.util._sandbox.local import LocalSandboxEnvironment

    async def go() -> list[float]:
        env = LocalSandboxEnvironment()
        out = []
        for _ in range(N):
            t = time.perf_counter()
            await env.exec(["true"])
            out.append(time.perf_counter() - t)
        env.directory.cleanup()
        return out

    return asyncio.run(go())


def main() -> None:
    with Sandbox() as box:
        box.run(["true"])  # warm
        ours = time_ours(box)
    raw = time_raw_bwrap()
    local = time_inspect_local()
    t = time.perf_counter()
    with Sandbox() as box:
        box.run(["true"])
    cold = time.perf_counter() - t
    print(f"machine: {machine()}")
    print(
        f"exec in an open sandbox, {N} runs:  p50 {median(ours) * 1000:.1f} ms  p95 {pct(ours, 0.95) * 1000:.1f} ms  "
        f"({1 / median(ours):.0f} execs/s)"
    )
    print(
        f"raw bwrap true:                     p50 {median(raw) * 1000:.1f} ms  p95 {pct(raw, 0.95) * 1000:.1f} ms"
    )
    print(
        f"inspect 'local' (no isolation):     p50 {median(local) * 1000:.1f} ms  p95 {pct(local, 0.95) * 1000:.1f} ms"
    )
    print(f"sandbox create + first exec + teardown: {cold * 1000:.1f} ms")
    print(
        f"ratio ours/raw bwrap (p50): {median(ours) / median(raw):.2f}x; overhead over raw bwrap "
        f"{(median(ours) - median(raw)) * 1000:.1f} ms (target < 15 ms)"
    )
    print(f"ratio ours/inspect local (p50): {median(ours) / median(local):.2f}x")


if __name__ == "__main__":
    main()
