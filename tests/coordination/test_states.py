"""The case state machine: the transition table, written out independently of the code."""

from __future__ import annotations

import itertools

import pytest

from clearinghouse.coordination.states import (
    AUTOMATIC_ONLY,
    TERMINAL,
    TRANSITIONS,
    CaseState,
    check_transition,
)
from clearinghouse.core.errors import IllegalTransition

C = CaseState
ALLOWED = {
    (C.open, C.vendors_notified),
    (C.open, C.closed),
    (C.vendors_notified, C.fix_pending),
    (C.vendors_notified, C.fixed),
    (C.vendors_notified, C.published),
    (C.vendors_notified, C.closed),
    (C.fix_pending, C.fixed),
    (C.fix_pending, C.published),
    (C.fix_pending, C.closed),
    (C.fixed, C.published),
    (C.fixed, C.closed),
    (C.published, C.closed),
}


@pytest.mark.parametrize("src,dst", list(itertools.product(CaseState, CaseState)))
def test_transition_table(src: CaseState, dst: CaseState) -> None:
    if (src, dst) in ALLOWED:
        check_transition(src, dst)
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_transition(src, dst)
        assert caught.value.code == "illegal_transition"


def test_table_matches_and_terminal_states() -> None:
    assert {(s, d) for s, nxt in TRANSITIONS.items() for d in nxt} == ALLOWED
    assert TERMINAL == {C.closed}
    assert AUTOMATIC_ONLY == {C.published}
    # no way back to open, and never out of closed
    assert all(C.open not in nxt for nxt in TRANSITIONS.values())
