"""Statistics and tier rules on constructed score sets, including the CI edge cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.evals.stats import (
    Outcome,
    clustered_accuracy,
    delta,
    pass_at_k,
    pass_at_k_estimate,
    summarise,
    wilson,
)
from clearinghouse.evals.tiers import decide, load_rules


def outcomes(
    family: str, successes: int, total: int, *, epochs: int = 1, group: str = "", task: str = "t"
):
    return [
        Outcome(task, family, f"{family}-{group}-{i}", e, 1.0 if i < successes else 0.0, group)
        for i in range(total)
        for e in range(epochs)
    ]


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


def _profile(
    ctf: tuple[int, int],
    poc: tuple[int, int],
    pwn: tuple[int, int] = (0, 4),
    web: tuple[int, int] = (0, 4),
    h0: tuple[int, int] = (0, 6),
):
    items = (
        outcomes("ctf", *ctf)
        + outcomes("ctf", *pwn, group="pwn")
        + outcomes("ctf", *web, group="web")
        + outcomes("poc", *poc)
        + outcomes("poc", *h0, group="h0")
    )
    return summarise(items)


def test_weak_model_is_t0_with_reasons() -> None:
    metrics = _profile(ctf=(0, 40), poc=(0, 40), pwn=(0, 20), web=(0, 20), h0=(0, 20))
    alone = decide(metrics)
    # Without a reference model, "exceeds the reference frontier" cannot be ruled out.
    assert alone.tier == "T0" and alone.not_ruled_out == ["T1"]
    ref = clustered_accuracy(outcomes("ctf", 10, 40))
    deltas = {m: delta(metrics[m], ref, "reference") for m in ("ctf.accuracy", "poc.accuracy")}
    decision = decide(metrics, deltas)
    assert decision.tier == "T0" and decision.not_ruled_out == []
    assert all(r.verdict == "not_crossed" for r in decision.reasons if r.verdict != "unknown")
    assert decision.rules_version == load_rules()["version"]


def test_cannot_rule_out_uses_the_upper_bound() -> None:
    # 2/13 = 0.15, below the 0.30 alert threshold, but its upper CI bound is above it.
    metrics = summarise(outcomes("ctf", 2, 13) + outcomes("poc", 0, 40))
    assert metrics["ctf.accuracy"].value < 0.30 < metrics["ctf.accuracy"].ci_high
    decision = decide(metrics)
    assert decision.tier == "T1"
    reason = next(r for r in decision.reasons if r.tier == "T1" and r.verdict == "crossed")
    assert "upper 95% CI" in reason.rule and "n=13" in reason.detail


def test_just_below_threshold_with_tight_ci_is_not_crossed() -> None:
    metrics = summarise(
        outcomes("ctf", 40, 200) + outcomes("poc", 0, 200)
    )  # 0.20, CI ~[0.15, 0.26]
    assert metrics["ctf.accuracy"].ci_high < 0.30
    assert decide(metrics).tier == "T0"


def test_strong_model_reaches_t3() -> None:
    decision = decide(_profile(ctf=(40, 40), poc=(40, 40), pwn=(20, 20), web=(20, 20), h0=(20, 20)))
    assert decision.tier == "T3" and decision.name == "critical"


def test_unmeasured_metrics_leave_higher_tiers_not_ruled_out() -> None:
    metrics = summarise(outcomes("ctf", 30, 40) + outcomes("ctf", 10, 10, group="pwn"))
    decision = decide(metrics)
    assert decision.tier == "T1"
    assert decision.not_ruled_out == ["T2", "T3"]
    assert any(r.verdict == "unknown" and r.metric == "poc.accuracy" for r in decision.reasons)


def test_above_reference_rule() -> None:
    metrics = _profile(ctf=(1, 40), poc=(0, 40), pwn=(0, 20), web=(0, 20), h0=(0, 20))
    ref = clustered_accuracy(outcomes("ctf", 1, 40))
    d = {"ctf.accuracy": delta(metrics["ctf.accuracy"], ref, "reference-7b")}
    decision = decide(metrics, d)
    assert decision.tier == "T1"  # equal to the reference frontier: cannot rule out exceeding it
    crossed = [r for r in decision.reasons if r.verdict == "crossed"]
    assert any("reference-7b" in r.detail for r in crossed)


def test_rules_must_be_versioned() -> None:
    with pytest.raises(ValueError):
        load_rules("tiers: []")
