"""Statistics for eval scores: accuracy with a 95% CI clustered by challenge, pass@k, and deltas.

Samples are clustered by challenge (the sample id): several epochs of one challenge are not
independent evidence. The interval is Wilson's score interval at the *effective* sample size
implied by the cluster-robust standard error, which stays inside [0, 1] and behaves at 0% and
100%, where a normal interval collapses to a point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Outcome:
    """One scored attempt: which task and challenge, which epoch, and whether it succeeded."""

    task: str
    family: str
    challenge: str
    epoch: int
    value: float  # 1.0 correct, 0.0 incorrect (partial credit allowed)
    group: str = ""  # a subgroup such as a CTF category or a hint level
    # What a success means: "accuracy" (solved), or "compliance" (gave real help toward an
    # attack request), which is never averaged into a family's accuracy.
    metric: str = "accuracy"


@dataclass(frozen=True)
class Estimate:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int  # challenges (clusters)
    epochs: int
    se: float

    def as_dict(self, task: str) -> dict[str, object]:
        return {
            "task": task,
            "metric": self.metric,
            "value": round(self.value, 4),
            "ci_low": round(self.ci_low, 4),
            "ci_high": round(self.ci_high, 4),
            "n": self.n,
            "epochs": self.epochs,
        }


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Exact at the bounds (floating point would otherwise put 1e-17 between the estimate and them).
    low = 0.0 if p <= 0 else min(p, max(0.0, centre - half))
    high = 1.0 if p >= 1 else max(p, min(1.0, centre + half))
    return low, high


def clustered_accuracy(outcomes: Iterable[Outcome], metric: str = "accuracy") -> Estimate:
    by_cluster: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        by_cluster[o.challenge].append(o.value)
    if not by_cluster:
        raise ValueError("no outcomes to estimate from")
    c = len(by_cluster)
    sizes = [len(v) for v in by_cluster.values()]
    total = sum(sizes)
    p = sum(sum(v) for v in by_cluster.values()) / total
    # Cluster-robust (CR1) variance of the pooled mean.
    resid = [sum(v) - len(v) * p for v in by_cluster.values()]
    var = (c / (c - 1)) * sum(r * r for r in resid) / (total * total) if c > 1 else 0.0
    se = math.sqrt(var)
    if se > 0 and 0 < p < 1:
        n_eff = min(float(total), max(1.0, p * (1 - p) / var))
    else:
        n_eff = float(c)  # all clusters agree (or p at a bound): Wilson at the number of challenges
    low, high = wilson(p, n_eff)
    return Estimate(metric, p, low, high, c, max(sizes), se)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError("k cannot exceed the number of attempts")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_estimate(outcomes: Iterable[Outcome], k: int) -> Estimate:
    by_cluster: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        by_cluster[o.challenge].append(o.value)
    values = [pass_at_k(len(v), sum(1 for x in v if x >= 1.0), k) for v in by_cluster.values()]
    c = len(values)
    mean = sum(values) / c
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (c - 1) / c) if c > 1 else 0.0
    if se > 0:
        low, high = max(0.0, mean - Z95 * se), min(1.0, mean + Z95 * se)
    else:
        low, high = wilson(mean, c)
    return Estimate(f"pass@{k}", mean, low, high, c, min(len(v) for v in by_cluster.values()), se)


@dataclass(frozen=True)
class Delta:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    reference: str


def delta(model: Estimate, reference: Estimate, reference_name: str) -> Delta:
    """Difference of two independent estimates, with a normal 95% CI from their SEs (the SE of a
    degenerate estimate comes from its Wilson interval, so a 0-vs-0 delta is not falsely exact)."""

    def se(e: Estimate) -> float:
        return e.se if e.se > 0 else (e.ci_high - e.ci_low) / (2 * Z95)

    d = model.value - reference.value
    s = math.sqrt(se(model) ** 2 + se(reference) ** 2)
    return Delta(model.metric, d, max(-1.0, d - Z95 * s), min(1.0, d + Z95 * s), reference_name)


def summarise(outcomes: list[Outcome]) -> dict[str, Estimate]:
    """Metrics by family (`ctf.accuracy`), by family subgroup (`ctf.pwn.accuracy`) and by task
    (`task:ctf_generated.accuracy`), plus pass@k where there were several epochs. Outcomes of
    another metric (`knowledge.compliance`) are summarised apart, under their own name."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[f"{o.family}.{o.metric}"].append(o)
        groups[f"task:{o.task}.{o.metric}"].append(o)
        if o.group:
            groups[f"{o.family}.{o.group}.{o.metric}"].append(o)
    result = {
        name: clustered_accuracy(items, name.rsplit(".", 1)[1]) for name, items in groups.items()
    }
    for name, items in list(groups.items()):
        epochs = min(
            sum(1 for o in items if o.challenge == ch) for ch in {o.challenge for o in items}
        )
        if epochs > 1 and name.startswith("task:") and name.endswith(".accuracy"):
            result[name.replace(".accuracy", f".pass@{epochs}")] = pass_at_k_estimate(items, epochs)
    return result
