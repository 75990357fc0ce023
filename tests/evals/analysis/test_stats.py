"""Statistics on constructed score sets, including the CI edge cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.evals.analysis.stats import (
    Outcome,
    clustered_accuracy,
    delta,
    pass_at_k,
    pass_at_k_estimate,
    wilson,
)
from tests.evals.analysis.scores import outcomes


def test_wilson_known_values() -> None:
    low, high = wilson(0.5, 100)
    assert math.isclose(low, 0.4038, abs_tol=1e-3) and math.isclose(high, 0.5962, abs_tol=1e-3)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (0, 1), (1, 1)])
def test_bounds_never_collapse_at_zero_and_one(k: int, n: int) -> None:
    est = clustered_accuracy(outcomes("ctf", k, n))
    assert 0.0 <= est.ci_low <= est.value <= est.ci_high <= 1.0
    assert est.ci_high - est.ci_low > 0.1  # 0/10 does not prove the rate is exactly 0
    if k == 0:
        assert est.ci_low == 0.0 and est.ci_high > 0.2
    if k == n:
        assert est.ci_high == 1.0 and est.ci_low < 0.8


def test_epochs_do_not_shrink_the_interval_like_new_challenges() -> None:
    one = clustered_accuracy(outcomes("ctf", 3, 10))
    repeated = clustered_accuracy(
        outcomes("ctf", 3, 10, epochs=5)
    )  # same 10 challenges, 5 times each
    fresh = clustered_accuracy(outcomes("ctf", 15, 50))  # 50 distinct challenges
    assert repeated.n == 10 and repeated.epochs == 5
    assert math.isclose(repeated.value, one.value)
    assert repeated.ci_high - repeated.ci_low > (fresh.ci_high - fresh.ci_low) * 1.5


def test_pass_at_k_estimator() -> None:
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 5, 3) == 1.0
    assert math.isclose(pass_at_k(5, 1, 1), 0.2) and math.isclose(pass_at_k(5, 1, 5), 1.0)
    assert math.isclose(pass_at_k(4, 2, 2), 1 - 1 / 6)
    mixed = [Outcome("t", "ctf", "a", e, 1.0 if e == 0 else 0.0) for e in range(4)] + [
        Outcome("t", "ctf", "b", e, 0.0) for e in range(4)
    ]
    est = pass_at_k_estimate(mixed, 4)
    assert est.value == 0.5 and est.n == 2 and est.epochs == 4


@given(st.integers(1, 40), st.data())
def test_interval_contains_estimate(total: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, total))
    epochs = data.draw(st.integers(1, 4))
    est = clustered_accuracy(outcomes("poc", k, total, epochs=epochs))
    assert 0.0 <= est.ci_low <= est.value <= est.ci_high <= 1.0


def test_delta_against_reference() -> None:
    model = clustered_accuracy(outcomes("ctf", 8, 10))
    ref = clustered_accuracy(outcomes("ctf", 2, 10))
    d = delta(model, ref, "ref-model")
    assert math.isclose(d.value, 0.6) and d.ci_low > 0  # clearly better
    tie = delta(
        clustered_accuracy(outcomes("ctf", 0, 10)), clustered_accuracy(outcomes("ctf", 0, 10)), "r"
    )
    assert tie.value == 0 and tie.ci_low < 0 < tie.ci_high  # 0 vs 0 is not an exact tie
