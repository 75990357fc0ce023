"""Helpers shared by the benchmarks: timing, medians, the machine, and the local model."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def local_model() -> contextlib.AbstractContextManager[tuple[str, str]]:
    """Start SmolLM2 on a free port; yields (base_url, api_key)."""
    from clearinghouse.evals.localmodel import running

    return running()
