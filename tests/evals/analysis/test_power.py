"""The power analysis against hand-computed values (Student's t from a printed table), and
against what a battery of the predicted size really reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.evals.analysis.power import (
    clusters_to_cross,
    clusters_to_exceed_reference,
    clusters_to_rule_out,
    clusters_to_rule_out_delta,
)
from clearinghouse.evals.analysis.stats import cluster_interval, clustered_accuracy
from tests.evals.analysis.scores import outcomes

# t(df), two-sided 95%, from a printed table.
T = {3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 10: 2.2281, 11: 2.2010, 13: 2.1604,
     14: 2.1448, 16: 2.1199, 17: 2.1098, 36: 2.0281, 37: 2.0262}  # fmt: skip


def upper_at_zero(c: int) -> float:
    return T[c - 1] ** 2 / (c + T[c - 1] ** 2)


def lower_at_one(c: int) -> float:
    return c / (c + T[c - 1] ** 2)


@pytest.mark.parametrize(
    ("threshold", "needed"),
    [
        (0.30, 12),  # c=11: 0.3110; c=12: 0.2876
        (0.25, 15),  # c=14: 0.25003; c=15: 0.2347
        (0.10, 38),  # c=37: 0.10005; c=38: 0.0975
    ],
)
def test_clusters_to_rule_out_a_model_with_no_successes(threshold: float, needed: int) -> None:
    assert upper_at_zero(needed) < threshold <= upper_at_zero(needed - 1)
    assert clusters_to_rule_out(0.0, threshold) == needed


@pytest.mark.parametrize(
    ("threshold", "needed"),
    [
        (0.50, 7),  # c=6: 0.4759; c=7: 0.5390
        (0.80, 18),  # c=17: 0.7909; c=18: 0.8017
        (0.25, 4),  # c=3 ... c=4: 0.2831 (t(3)); the rules' minimum of 5 clusters applies on top
    ],
)
def test_clusters_for_a_perfect_model_to_cross(threshold: float, needed: int) -> None:
    assert lower_at_one(needed) >= threshold > (lower_at_one(needed - 1) if needed > 4 else 0)
    assert clusters_to_cross(1.0, threshold) == needed
    assert clusters_to_cross(1.0, threshold, minimum=5) == max(needed, 5)


def test_delta_rules_by_hand() -> None:
    # Perfect model vs a reference with no successes: lower = 1 - sqrt(2) t^2 / (c + t^2) > 0.10
    # needs t^2 / (c + t^2) < 0.6364: c=4 gives 0.7169, c=5 gives 0.6066.
    assert clusters_to_exceed_reference(1.0, 0.0, 0.10) == 5
    # No successes against a reference with none: the upper bound is the model's own, as above.
    assert clusters_to_rule_out_delta(0.0, 0.0, 0.10) == 38
    assert clusters_to_rule_out_delta(0.0, None, 0.10) == 38
    # A stronger reference rules a weak model out sooner.
    assert clusters_to_rule_out_delta(0.0, 0.3, 0.10) == 10


def test_a_rate_on_the_threshold_or_the_wrong_side_is_never_settled_that_way() -> None:
    assert clusters_to_cross(0.2, 0.3) is None and clusters_to_cross(0.3, 0.3) is None
    assert clusters_to_rule_out(0.3, 0.3) is None and clusters_to_rule_out(0.5, 0.3) is None
    assert clusters_to_exceed_reference(0.2, 0.2, 0.10) is None
    assert clusters_to_rule_out_delta(0.2, None, 0.10) is None  # without a reference, never


def test_the_prediction_is_what_a_battery_of_that_size_reports() -> None:
    needed = clusters_to_rule_out(0.0, 0.25)
    assert needed is not None
    assert clustered_accuracy(outcomes("poc", 0, needed, epochs=3)).ci_high < 0.25
    assert clustered_accuracy(outcomes("poc", 0, needed - 1, epochs=3)).ci_high >= 0.25
    # At a rate of 0.6 the prediction is the exact boundary, and a real battery past it crosses.
    at_rate = clusters_to_cross(0.6, 0.30)
    assert at_rate is not None
    assert cluster_interval(0.6, at_rate)[0] >= 0.30 > cluster_interval(0.6, at_rate - 1)[0]
    solved = clustered_accuracy(outcomes("ctf", 3 * at_rate, 5 * at_rate))
    assert solved.value == 0.6 and solved.ci_low >= 0.30


@given(st.floats(0.0, 1.0), st.integers(2, 500))
def test_the_interval_narrows_as_clusters_grow(rate: float, c: int) -> None:
    low, high = cluster_interval(rate, c)
    low2, high2 = cluster_interval(rate, c + 1)
    assert low2 >= low and high2 <= high
