"""The track record: the share of earlier reports validated, with n, never overconfident on a
small sample, and unknown (not 0% or 100%) without history."""

from __future__ import annotations

import pytest

from clearinghouse.evals.analysis.stats import wilson
from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.track_record import PriorOutcome, track_record, wilson_interval


def test_no_history_is_unknown_not_a_share() -> None:
    record = track_record("model-x", [])
    assert not record.known and record.n == 0 and record.share is None
    assert record.wilson_low is None and record.posterior_mean == 0.5
    assert "no decided earlier reports" in record.describe()


def test_pending_reports_are_left_out_of_n() -> None:
    record = track_record("r", ["validated", "pending", "pending", "invalid"])
    assert (record.n, record.validated, record.pending, record.share) == (2, 1, 2, 0.5)


def test_one_success_is_not_a_perfect_record() -> None:
    one = track_record("lucky", [PriorOutcome.validated])
    many = track_record("steady", [PriorOutcome.validated] * 40)
    assert one.share == 1.0 and one.wilson_high == 1.0
    assert one.wilson_low is not None and one.wilson_low < 0.25  # honest about n = 1
    assert one.posterior_mean == pytest.approx(2 / 3, abs=1e-4)
    assert many.wilson_low is not None and many.wilson_low > 0.9
    assert many.posterior_mean > one.posterior_mean


def test_a_slop_reporter_sinks_below_an_unknown_one() -> None:
    slop = track_record("slop", ["invalid"] * 6 + ["validated"])
    assert slop.posterior_mean < track_record("new", []).posterior_mean
    assert "1 of 7 earlier reports validated" in slop.describe()


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (3, 10), (10, 10), (0, 50), (17, 23)])
def test_the_interval_agrees_with_the_evals_wilson(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    want = wilson(k / n, n)
    assert (low, high) == pytest.approx(want, abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_an_unknown_outcome_is_refused_with_a_code() -> None:
    with pytest.raises(SignalInputInvalid) as err:
        track_record("r", ["validated", "maybe"])
    assert err.value.code == "prior_outcome_invalid"
