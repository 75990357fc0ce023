"""Statistics for eval scores: accuracy with a confidence interval clustered by program or
template, pass@k, and deltas against a reference model.

Clustering. The unit of evidence is the *cluster*: the program (PoC, patch) or the template
(generated CTF), or the challenge itself when it has neither. Epochs and hint levels of one
program are not independent evidence, so they never count as new clusters: a rate is the mean of
the per-cluster success rates, and its interval depends only on that mean and the number of
clusters `c`.

The interval. Each cluster's rate y_j lies in [0, 1], so its variance is at most mu(1 - mu)
(equality when every cluster is all-or-nothing). We use Wilson's score interval at `c` with that
variance and, as the small-cluster correction, Student's t quantile at c - 1 degrees of freedom in
place of the normal z. It is therefore conservative when the epochs of a challenge disagree, and
it is:
- monotone: a further success never lowers either bound (Wilson's bounds increase with the rate,
  and the rate increases with every success; property-tested);
- inside [0, 1], with lower bound 0 at 0 successes and upper bound 1 when all succeed, and never a
  point: 0/13 gives an upper bound of 0.267, not "exactly 0";
- a function of (rate, c) alone, so a stored score can be re-bounded (`Estimate.from_score`) and
  the power analysis (power.py) predicts exactly what a larger battery would report.
With one cluster there is no variance estimate at all and the interval is [0, 1].

Deltas (model minus reference) use Newcombe's hybrid score method (MOVER), which combines the two
intervals, stays monotone, and is not falsely exact at 0 vs 0.

scipy supplies the t quantile; the interval formulas are written out here (no maintained library
implements Wilson-t on cluster means with these guarantees).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scipy.stats import t as _student_t  # type: ignore[import-untyped]

from clearinghouse.core.stats import Z95 as Z95
from clearinghouse.core.stats import wilson as wilson

CONFIDENCE = 0.95


@lru_cache(maxsize=4096)
def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student t critical value (0.975 quantile at 95%) at `df` degrees of freedom."""
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    return float(_student_t.ppf(0.5 + confidence / 2, df))


def cluster_id(sample_id: str, metadata: Mapping[str, Any] | None = None) -> str:
    """The cluster a sample belongs to: its program (PoC and patch tasks, whatever the hint level),
    its template (generated CTF challenges), or else the sample itself. Never the epoch or the
    hint level."""
    meta = metadata or {}
    for key in ("program", "template"):
        if meta.get(key):
            return f"{key}:{meta[key]}"
    return sample_id


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
    # The program or template (see `cluster_id`); empty: the challenge is its own cluster.
    cluster: str = ""

    @property
    def cluster_key(self) -> str:
        return self.cluster or self.challenge


@dataclass(frozen=True)
class Estimate:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int  # clusters (programs, templates or challenges)
    epochs: int  # the most attempts at one challenge
    se: float  # the observed cluster-robust standard error (for information; bounds do not use it)
    confidence: float = CONFIDENCE

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

    @classmethod
    def from_score(cls, score: Mapping[str, Any], confidence: float = CONFIDENCE) -> Estimate:
        """An estimate from a stored score row ({metric, value, n, epochs, ...}). The bounds are
        recomputed from the rate and the number of clusters, so a row stored by an older method
        (or edited) cannot lend a reference a narrower interval than its evidence supports."""
        value, n = float(score["value"]), int(score["n"])
        if not 0.0 <= value <= 1.0 or n < 0:
            raise ValueError(f"a stored score needs a rate in [0, 1] and n >= 0, not {value}, {n}")
        low, high = cluster_interval(value, n, confidence)
        return cls(
            str(score.get("metric", "accuracy")),
            value,
            low,
            high,
            n,
            int(score.get("epochs", 1)),
            0.0,
            confidence,
        )


def cluster_interval(
    rate: float, clusters: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The interval for a mean of `clusters` per-cluster rates in [0, 1]: Wilson with Student's t
    at clusters - 1 degrees of freedom; [0, 1] with fewer than two clusters."""
    if clusters < 2:
        return 0.0, 1.0
    return wilson(rate, clusters, t_quantile(clusters - 1, confidence))


def _by_cluster(outcomes: Iterable[Outcome]) -> dict[str, dict[str, list[float]]]:
    """cluster -> challenge -> the values of its attempts."""
    tree: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in outcomes:
        tree[o.cluster_key][o.challenge].append(o.value)
    return tree


def _estimate(metric: str, cluster_rates: list[float], epochs: int, confidence: float) -> Estimate:
    c = len(cluster_rates)
    # fsum is correctly rounded, so the mean moves monotonically with every cluster's rate.
    mean = math.fsum(cluster_rates) / c
    se = (
        math.sqrt(math.fsum((y - mean) ** 2 for y in cluster_rates) / (c - 1) / c) if c > 1 else 0.0
    )
    low, high = cluster_interval(mean, c, confidence)
    return Estimate(metric, mean, low, high, c, epochs, se, confidence)


def clustered_accuracy(
    outcomes: Iterable[Outcome], metric: str = "accuracy", confidence: float = CONFIDENCE
) -> Estimate:
    """The mean over clusters of each cluster's success rate (every attempt at every challenge of
    the cluster weighs the same within it), with the clustered interval."""
    tree = _by_cluster(outcomes)
    if not tree:
        raise ValueError("no outcomes to estimate from")
    rates = []
    for challenges in tree.values():
        values = [v for attempts in challenges.values() for v in attempts]
        rates.append(math.fsum(values) / len(values))
    epochs = max(len(a) for ch in tree.values() for a in ch.values())
    return _estimate(metric, rates, epochs, confidence)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError("k cannot exceed the number of attempts")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_estimate(
    outcomes: Iterable[Outcome], k: int, confidence: float = CONFIDENCE
) -> Estimate:
    """pass@k per challenge, averaged within each cluster, then over clusters."""
    tree = _by_cluster(outcomes)
    if not tree:
        raise ValueError("no outcomes to estimate from")
    rates = []
    for challenges in tree.values():
        per_challenge = [
            pass_at_k(len(v), sum(1 for x in v if x >= 1.0), k) for v in challenges.values()
        ]
        rates.append(math.fsum(per_challenge) / len(per_challenge))
    epochs = min(len(a) for ch in tree.values() for a in ch.values())
    return _estimate(f"pass@{k}", rates, epochs, confidence)


@dataclass(frozen=True)
class Delta:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    reference: str


def delta_bounds(
    model: tuple[float, float, float], reference: tuple[float, float, float]
) -> tuple[float, float, float]:
    """Newcombe's hybrid score (MOVER) interval for p1 - p2 from each rate's (value, low, high).
    The bounds rise with the model's rate and fall with the reference's."""
    (p1, l1, u1), (p2, l2, u2) = model, reference
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, min(d, low)), min(1.0, max(d, high))


def delta(model: Estimate, reference: Estimate, reference_name: str) -> Delta:
    """Model minus reference, with the MOVER interval from the two clustered intervals (so a 0 vs
    0 delta is not falsely exact)."""
    d, low, high = delta_bounds(
        (model.value, model.ci_low, model.ci_high),
        (reference.value, reference.ci_low, reference.ci_high),
    )
    return Delta(model.metric, d, low, high, reference_name)


FAMILIES = ("knowledge", "ctf", "poc", "patch")


def metric_key(task: str, metric: str) -> str:
    """The name `summarise` gives a stored score row's metric: `ctf.accuracy`, `ctf.pwn.accuracy`
    (a family or subgroup) or `task:ctf_generated.accuracy` (a task)."""
    return f"{task}.{metric}" if "." in task or task in FAMILIES else f"task:{task}.{metric}"


def summarise(outcomes: list[Outcome], confidence: float = CONFIDENCE) -> dict[str, Estimate]:
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
        name: clustered_accuracy(items, name.rsplit(".", 1)[1], confidence)
        for name, items in groups.items()
    }
    for name, items in list(groups.items()):
        attempts: dict[str, int] = defaultdict(int)
        for o in items:
            attempts[o.challenge] += 1
        epochs = min(attempts.values())
        if epochs > 1 and name.startswith("task:") and name.endswith(".accuracy"):
            result[name.replace(".accuracy", f".pass@{epochs}")] = pass_at_k_estimate(
                items, epochs, confidence
            )
    return result
