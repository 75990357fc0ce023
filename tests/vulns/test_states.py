"""The vuln workflow (`vulns/states.py`), tested without a database: every pair of statuses,
legal or not."""

from __future__ import annotations

import itertools

import pytest

from clearinghouse.core.errors import IllegalTransition
from clearinghouse.vulns.states import OPEN, TRIAGE_MOVES, VulnStatus, check_move

V = VulnStatus
LEGAL = {
    (V.new, V.triaged),
    (V.new, V.rejected),
    (V.triaged, V.validated),
    (V.triaged, V.rejected),
    (V.validated, V.published),
    (V.validated, V.rejected),
    (V.rejected, V.triaged),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(V, V)))
def test_every_move_is_allowed_exactly_when_the_workflow_says(
    current: VulnStatus, target: VulnStatus
) -> None:
    if current == target or (current, target) in LEGAL:
        check_move(current, target)
        return
    with pytest.raises(IllegalTransition) as caught:
        check_move(current, target)
    assert caught.value.code == "illegal_transition"
    assert f"a {current.value} record cannot become {target.value}" in caught.value.detail


def test_duplicate_is_reached_and_left_only_by_merging() -> None:
    """A triage move can neither mark a record a duplicate (that hides it behind another
    record) nor bring one back (undoing the merge does, with its audit event)."""
    assert all(V.duplicate not in moves for moves in TRIAGE_MOVES.values())
    assert TRIAGE_MOVES[V.duplicate] == frozenset()


def test_published_is_final_for_triage() -> None:
    assert TRIAGE_MOVES[V.published] == frozenset()
    with pytest.raises(IllegalTransition):
        check_move(V.published, V.rejected)


def test_open_records_are_those_in_triage() -> None:
    """`vulns dedup --open` scans these; rejected, published and merged records are done."""
    assert OPEN == {V.new, V.triaged, V.validated}
