"""Statistics on constructed score sets: the clustered interval, its edge cases and its
guarantees (monotone in successes, inside [0, 1], clusters never counted twice)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clearinghouse.evals.analysis.stats import (
    Estimate,
    Outcome,
    cluster_id,
    clustered_accuracy,
    delta,
    pass_at_k,
    pass_at_k_estimate,
    summarise,
    wilson,
)
from tests.evals.analysis.scores import attempts, outcomes

# Student's t, two-sided 95% (0.975 quantile), from a printed table.
T = {1: 12.7062, 4: 2.7764, 5: 2.5706, 9: 2.2622, 12: 2.1788}


def test_wilson_known_values() -> None:
    low, high = wilson(0.5, 100)
    assert math.isclose(low, 0.4038, abs_tol=1e-3) and math.isclose(high, 0.5962, abs_tol=1e-3)


def test_one_success_never_lowers_the_upper_bound_13_challenges_x_5_epochs() -> None:
    """Regression: the Wilson-at-effective-n interval gave 0.228 for 0 successes and 0.083 for
    one success in 13 challenges x 5 epochs (the effective n jumped from 13 to 65)."""
    none = clustered_accuracy(outcomes("ctf", 0, 13, epochs=5))
    items = outcomes("ctf", 0, 13, epochs=5)
    items[0] = replace(items[0], value=1.0)  # one epoch of one challenge
    one = clustered_accuracy(items)
    assert one.value > none.value == 0.0
    assert one.ci_high >= none.ci_high and one.ci_low >= none.ci_low
    # 13 clusters, t at 12 degrees of freedom: t^2 / (13 + t^2), not the normal z's 0.228.
    assert math.isclose(none.ci_high, T[12] ** 2 / (13 + T[12] ** 2), abs_tol=1e-4)
    assert math.isclose(none.ci_high, 0.2675, abs_tol=1e-4)


@pytest.mark.parametrize(
    ("k", "c", "low", "high"),
    [
        # Hand-computed from the Wilson-t closed forms at the extremes:
        # 0 successes: [0, t^2 / (c + t^2)]; all: [c / (c + t^2), 1].
        (0, 13, 0.0, T[12] ** 2 / (13 + T[12] ** 2)),  # 0.2675
        (13, 13, 13 / (13 + T[12] ** 2), 1.0),  # 0.7325
        (0, 6, 0.0, T[5] ** 2 / (6 + T[5] ** 2)),  # 0.5241: the six PoC programs
        (10, 10, 10 / (10 + T[9] ** 2), 1.0),  # 0.6615
        (2, 2, 2 / (2 + T[1] ** 2), 1.0),  # 0.0122: two web challenges prove almost nothing
        (1, 1, 0.0, 1.0),  # one cluster: no evidence either way
        (0, 1, 0.0, 1.0),
    ],
)
def test_hand_computed_bounds(k: int, c: int, low: float, high: float) -> None:
    est = clustered_accuracy(outcomes("ctf", k, c, epochs=3))
    assert math.isclose(est.ci_low, low, abs_tol=1e-4)
    assert math.isclose(est.ci_high, high, abs_tol=1e-4)


def test_p_half_matches_wilson_with_t() -> None:
    # 5/10: centre 0.5, half-width t*sqrt(0.25/10 + t^2/400) / (1 + t^2/10), t = t(9).
    est = clustered_accuracy(outcomes("ctf", 5, 10))
    t = T[9]
    half = t * math.sqrt(0.25 / 10 + t * t / 400) / (1 + t * t / 10)
    assert math.isclose(est.ci_low, 0.5 - half, abs_tol=1e-4)
    assert math.isclose(est.ci_high, 0.5 + half, abs_tol=1e-4)


def test_hint_levels_and_epochs_of_one_program_are_one_cluster() -> None:
    """Six programs x four hint levels x two epochs are six clusters, not 24 or 48: three
    programs whose every hint level crashes are three successes in six."""
    items = attempts("poc", 3 * 4 * 2, 6, epochs=2, hints=4)
    est = clustered_accuracy(items)
    assert est.n == 6 and est.epochs == 2 and est.value == 0.5
    assert math.isclose(est.ci_low, clustered_accuracy(outcomes("poc", 3, 6)).ci_low)
    by_level = summarise(items)
    assert by_level["poc.h0.accuracy"].n == 6 and by_level["poc.accuracy"].n == 6


def test_cluster_id_is_the_program_or_template_never_the_hint_level() -> None:
    assert cluster_id("poc-notes-h3", {"program": "notes", "hint_level": 3}) == "program:notes"
    assert cluster_id("poc-notes-h0", {"program": "notes", "hint_level": 0}) == "program:notes"
    assert cluster_id("ctf-x1", {"template": "caesar", "category": "crypto"}) == "template:caesar"
    assert cluster_id("intercode-12", {"tags": "x"}) == "intercode-12"
    assert cluster_id("q1", None) == "q1"


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
    assert est.ci_low < 0.01 and est.ci_high > 0.99  # two clusters: t(1) = 12.7


def test_a_stored_score_is_rebounded_from_its_rate_and_clusters() -> None:
    """A reference row stored with a forged (or old-method) interval does not lend the
    reference a narrower interval than 0/13 supports."""
    forged = {"metric": "accuracy", "value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 13}
    est = Estimate.from_score(forged)
    assert est.ci_high == pytest.approx(0.2675, abs=1e-4) and est.n == 13
    with pytest.raises(ValueError):
        Estimate.from_score({"value": 1.5, "n": 3})


@st.composite
def clustered_attempts(draw: st.DrawFn) -> list[Outcome]:
    """Random cluster structures: clusters of challenges (hint levels) of attempts (epochs)."""
    items = []
    for c in range(draw(st.integers(1, 20))):
        for h in range(draw(st.integers(1, 4))):
            for e in range(draw(st.integers(1, 5))):
                value = draw(st.sampled_from([0.0, 1.0]))
                items.append(Outcome("t", "ctf", f"c{c}-h{h}", e, value, cluster=f"k{c}"))
    return items


@settings(max_examples=400)
@given(clustered_attempts(), st.data())
def test_a_further_success_never_lowers_either_bound(
    items: list[Outcome], data: st.DataObject
) -> None:
    failures = [i for i, o in enumerate(items) if o.value == 0.0]
    assume(failures)
    i = data.draw(st.sampled_from(failures))
    before = clustered_accuracy(items)
    after = clustered_accuracy([*items[:i], replace(items[i], value=1.0), *items[i + 1 :]])
    assert after.value > before.value
    assert after.ci_low >= before.ci_low
    assert after.ci_high >= before.ci_high


@given(clustered_attempts())
def test_bounds_are_inside_0_1_and_hold_the_estimate(items: list[Outcome]) -> None:
    est = clustered_accuracy(items)
    assert 0.0 <= est.ci_low <= est.value <= est.ci_high <= 1.0
    if est.value == 0.0:
        assert est.ci_low == 0.0 and est.ci_high > 0.0
    if est.value == 1.0:
        assert est.ci_high == 1.0 and est.ci_low < 1.0


@given(st.integers(2, 60), st.data())
def test_bounds_rise_with_successes_for_fixed_clusters(c: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, c - 1))
    lo, hi = (
        clustered_accuracy(outcomes("ctf", k, c)),
        clustered_accuracy(outcomes("ctf", k + 1, c)),
    )
    assert hi.ci_low >= lo.ci_low and hi.ci_high >= lo.ci_high


def test_delta_against_reference() -> None:
    model = clustered_accuracy(outcomes("ctf", 8, 10))
    ref = clustered_accuracy(outcomes("ctf", 2, 10))
    d = delta(model, ref, "ref-model")
    assert math.isclose(d.value, 0.6) and d.ci_low > 0  # clearly better
    tie = delta(
        clustered_accuracy(outcomes("ctf", 0, 10)), clustered_accuracy(outcomes("ctf", 0, 10)), "r"
    )
    assert tie.value == 0 and tie.ci_low < 0 < tie.ci_high  # 0 vs 0 is not an exact tie
    # MOVER at 0 vs 0: the bounds are the two upper bounds, t^2 / (c + t^2) each way.
    assert tie.ci_high == pytest.approx(T[9] ** 2 / (10 + T[9] ** 2), abs=1e-4)


@given(st.integers(2, 40), st.data())
def test_delta_rises_with_the_model_and_falls_with_the_reference(
    c: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, c - 1))
    r = data.draw(st.integers(0, c))
    ref = clustered_accuracy(outcomes("ctf", r, c))
    lo = delta(clustered_accuracy(outcomes("ctf", k, c)), ref, "r")
    hi = delta(clustered_accuracy(outcomes("ctf", k + 1, c)), ref, "r")
    assert hi.ci_low >= lo.ci_low and hi.ci_high >= lo.ci_high
    assert -1.0 <= lo.ci_low <= lo.value <= lo.ci_high <= 1.0
    if r < c:
        model = clustered_accuracy(outcomes("ctf", k, c))
        stronger = delta(model, clustered_accuracy(outcomes("ctf", r + 1, c)), "r")
        assert stronger.ci_low <= lo.ci_low and stronger.ci_high <= lo.ci_high
