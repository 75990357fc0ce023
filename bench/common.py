"""Helpers shared by the benchmarks: timing, medians, the machine, and the local model."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def local_model() -> Iterator[tuple[str, str]]:
    """Start SmolLM2 on a free port; yields (base_url, api_key)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "sk-bench-" + secrets.token_hex(8)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "model",
            "serve-local",
            "--port",
            str(port),
            "--api-key",
            key,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if (
                    httpx.get(
                        f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the local model did not start (is llama-cpp-python installed?)")
            time.sleep(0.3)
        yield base, key
    finally:
        proc.terminate()
        proc.wait(timeout=15)
