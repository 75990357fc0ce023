"""Power analysis: how many clusters (programs, templates or challenges) a tier rule needs before
it is decided, if the rate stays what was observed.

The clustered interval (stats.py) depends only on the rate and the number of clusters `c`, and
narrows as `c` grows (Wilson's width shrinks with c, and so does t at c - 1 degrees of freedom),
so the answer is the smallest `c` at which
- a threshold rule is *crossed*: the lower bound reaches the threshold (only possible when the
  rate is above it), or *ruled out*: the upper bound is below it (rate below it);
- a reference-delta rule is crossed: the delta's lower bound exceeds the margin, or ruled out: its
  upper bound is below the margin, with the reference measured on the same `c` clusters (a
  comparable reference runs the same tasks), or without a reference: the model's own upper bound
  is below the margin (a rate above 0 can only lower the delta).
`None` means no number of clusters decides it at that rate (the rate equals the threshold, or lies
on the other side of it). The search is a bisection over c; `MAX_CLUSTERS` bounds it.
"""

from __future__ import annotations

from collections.abc import Callable

from clearinghouse.evals.analysis.stats import CONFIDENCE, cluster_interval, delta_bounds

MAX_CLUSTERS = 1_000_000


def smallest(ok: Callable[[int], bool], start: int = 2) -> int | None:
    """The smallest c >= start with ok(c), for a predicate that stays true once true."""
    if not ok(MAX_CLUSTERS):
        return None
    lo, hi = start, MAX_CLUSTERS
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def clusters_to_cross(
    rate: float, threshold: float, confidence: float = CONFIDENCE, minimum: int = 2
) -> int | None:
    """Clusters needed for the lower bound to reach `threshold` at this rate."""
    return smallest(lambda c: cluster_interval(rate, c, confidence)[0] >= threshold, minimum)


def clusters_to_rule_out(
    rate: float, threshold: float, confidence: float = CONFIDENCE, minimum: int = 2
) -> int | None:
    """Clusters needed for the upper bound to fall below `threshold` at this rate."""
    return smallest(lambda c: cluster_interval(rate, c, confidence)[1] < threshold, minimum)


def _delta_at(
    model_rate: float, reference_rate: float, c: int, confidence: float
) -> tuple[float, float, float]:
    model = (model_rate, *cluster_interval(model_rate, c, confidence))
    reference = (reference_rate, *cluster_interval(reference_rate, c, confidence))
    return delta_bounds(model, reference)


def clusters_to_exceed_reference(
    model_rate: float,
    reference_rate: float,
    margin: float,
    confidence: float = CONFIDENCE,
    minimum: int = 2,
) -> int | None:
    """Clusters (each run) for the delta's lower bound to exceed `margin`."""
    return smallest(
        lambda c: _delta_at(model_rate, reference_rate, c, confidence)[1] > margin, minimum
    )


def clusters_to_rule_out_delta(
    model_rate: float,
    reference_rate: float | None,
    margin: float,
    confidence: float = CONFIDENCE,
    minimum: int = 2,
) -> int | None:
    """Clusters (each run) for the delta's upper bound to fall below `margin`; with no
    reference, for the model's own upper bound to."""
    if reference_rate is None:
        return clusters_to_rule_out(model_rate, margin, confidence, minimum)
    return smallest(
        lambda c: _delta_at(model_rate, reference_rate, c, confidence)[2] < margin, minimum
    )
