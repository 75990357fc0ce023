"""The submission state machine and the review window arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.core.errors import IllegalTransition
from clearinghouse.reviews.states import (
    TERMINAL,
    TRANSITIONS,
    SubmissionState,
    check_transition,
    review_deadline,
)

S = SubmissionState
LEGAL = {
    (S.submitted, S.access_verified),
    (S.submitted, S.lapsed),
    (S.submitted, S.withdrawn),
    (S.access_verified, S.testing),
    (S.access_verified, S.lapsed),
    (S.access_verified, S.withdrawn),
    (S.testing, S.findings_drafted),
    (S.testing, S.lapsed),
    (S.testing, S.withdrawn),
    (S.findings_drafted, S.report_delivered),
    (S.findings_drafted, S.lapsed),
    (S.findings_drafted, S.withdrawn),
    (S.report_delivered, S.closed),
    (S.report_delivered, S.withdrawn),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_of_states(current: SubmissionState, target: SubmissionState) -> None:
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(current, target)
        assert info.value.code == "illegal_transition"


def test_terminal_states_and_no_approval() -> None:
    assert TERMINAL == {S.closed, S.lapsed, S.withdrawn}
    assert not any(word in s.value for s in S for word in ("approv", "clear", "pass", "block"))
    assert set(TRANSITIONS) == set(S)


def test_deadline_is_thirty_days_unless_release_is_earlier() -> None:
    opened = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert review_deadline(opened, opened + timedelta(days=90)) == (
        opened + timedelta(days=30),
        False,
    )
    assert review_deadline(opened, opened + timedelta(days=30)) == (
        opened + timedelta(days=30),
        False,
    )
    early = opened + timedelta(days=12, hours=3)
    assert review_deadline(opened, early) == (early, True)


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_deadline_is_the_minimum(opened: datetime, until_release: timedelta) -> None:
    release = opened + until_release
    deadline, shortened = review_deadline(opened, release)
    assert deadline == min(opened + timedelta(days=30), release)
    assert shortened == (release < opened + timedelta(days=30))
