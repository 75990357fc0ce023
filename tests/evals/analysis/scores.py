"""Constructed score sets for the analysis tests."""

from __future__ import annotations

from clearinghouse.evals.analysis.stats import Outcome


def outcomes(
    family: str,
    successes: int,
    total: int,
    *,
    epochs: int = 1,
    group: str = "",
    task: str = "t",
    metric: str = "accuracy",
) -> list[Outcome]:
    """`total` challenges (each its own cluster), the first `successes` solved in every epoch."""
    return [
        Outcome(
            task, family, f"{family}-{group}-{i}", e, 1.0 if i < successes else 0.0, group, metric
        )
        for i in range(total)
        for e in range(epochs)
    ]


def attempts(
    family: str, successes: int, clusters: int, *, epochs: int = 1, hints: int = 1
) -> list[Outcome]:
    """`clusters` programs x `hints` hint levels x `epochs`, with `successes` successful attempts
    placed in order (program 0 first, then its hint levels, then its epochs)."""
    items = []
    i = 0
    for c in range(clusters):
        for h in range(hints):
            for e in range(epochs):
                items.append(
                    Outcome(
                        "t",
                        family,
                        f"{family}-p{c}-h{h}",
                        e,
                        1.0 if i < successes else 0.0,
                        f"h{h}",
                        cluster=f"program:p{c}",
                    )
                )
                i += 1
    return items
