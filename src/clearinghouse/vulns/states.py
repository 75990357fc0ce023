"""The vulnerability record workflow.

    new ──▶ triaged ──▶ validated ──▶ published
     │         │  ▲          │
     ▼         ▼  │          ▼
    rejected ◀────┴───── (any open state)
    (open states) ──merge──▶ duplicate ──undo the merge──▶ (the state before)

A coordinator moves a record with `triage`; `duplicate` is reached only by merging (and left
only by undoing the merge), never by a triage move. `published` and `duplicate` admit no triage
move. Imported records arrive `published`; reports arrive `new`.
"""

from __future__ import annotations

from enum import StrEnum

from clearinghouse.core.errors import IllegalTransition


class VulnStatus(StrEnum):
    new = "new"
    triaged = "triaged"
    validated = "validated"
    rejected = "rejected"
    duplicate = "duplicate"
    published = "published"


V = VulnStatus

TRIAGE_MOVES: dict[VulnStatus, frozenset[VulnStatus]] = {
    V.new: frozenset({V.triaged, V.rejected}),
    V.triaged: frozenset({V.validated, V.rejected}),
    V.validated: frozenset({V.published, V.rejected}),
    V.rejected: frozenset({V.triaged}),
    V.published: frozenset(),
    V.duplicate: frozenset(),
}

# The records still in triage: what `vulns dedup --open` scans.
OPEN = frozenset({V.new, V.triaged, V.validated})


def check_move(current: VulnStatus, target: VulnStatus) -> None:
    """Refuse a triage move the workflow does not allow (IllegalTransition, 409). Staying in
    the current state is not a move."""
    if target == current:
        return
    allowed = TRIAGE_MOVES[current]
    if target not in allowed:
        raise IllegalTransition(
            f"a {current.value} record cannot become {target.value}"
            + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
        )
