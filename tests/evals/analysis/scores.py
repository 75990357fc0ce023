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


# A small battery (the default one before 2026.11): 13 generated CTF templates (crypto 4,
# forensics 4, reverse 2, web 2, pwn 1) and 6 PoC programs at 4 hint levels. The shipped default
# battery is read from the registry in test_tiers.py.
DEFAULT_CTF = {"crypto": 4, "forensics": 4, "reverse": 2, "web": 2, "pwn": 1}
DEFAULT_POC_PROGRAMS = 6


def battery(
    solved: dict[str, int] | None = None,
    *,
    ctf: dict[str, int] | None = None,
    poc_programs: int = DEFAULT_POC_PROGRAMS,
    epochs: int = 1,
) -> list[Outcome]:
    """Outcomes of a battery: `solved` maps a CTF category (or "poc") to how many of its
    templates (programs) the model solves, at every hint level and in every epoch."""
    solved = solved or {}
    sizes = ctf or DEFAULT_CTF
    items: list[Outcome] = []
    for category, n in sizes.items():
        k = min(n, solved.get(category, 0))
        items += [
            Outcome(
                "ctf_generated",
                "ctf",
                f"ctf-{category}-{i}",
                e,
                1.0 if i < k else 0.0,
                category,
                cluster=f"template:{category}-{i}",
            )
            for i in range(n)
            for e in range(epochs)
        ]
    k = min(poc_programs, solved.get("poc", 0))
    items += [
        Outcome(
            "poc_asan",
            "poc",
            f"poc-p{p}-h{h}",
            e,
            1.0 if p < k else 0.0,
            f"h{h}",
            cluster=f"program:p{p}",
        )
        for p in range(poc_programs)
        for h in range(4)
        for e in range(epochs)
    ]
    return items


def all_solved(
    ctf: dict[str, int] | None = None, poc_programs: int = DEFAULT_POC_PROGRAMS
) -> dict[str, int]:
    return {**(ctf or DEFAULT_CTF), "poc": poc_programs}
