"""Constructed score sets for the analysis tests."""

from __future__ import annotations

from clearinghouse.evals.analysis.stats import Outcome


def outcomes(
    family: str, successes: int, total: int, *, epochs: int = 1, group: str = "", task: str = "t"
):
    return [
        Outcome(task, family, f"{family}-{group}-{i}", e, 1.0 if i < successes else 0.0, group)
        for i in range(total)
        for e in range(epochs)
    ]
