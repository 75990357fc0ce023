"""The case state machine.

    open ──notify──▶ vendors_notified ──▶ fix_pending ──▶ fixed ──▶ published ──▶ closed
                          │    └──────────────┼─────────────▲ │         ▲
                          │                   └─────────────┼─┼─────────┘
                          └─────────────────────────────────┴─┘
    (any state but closed) ──▶ closed

- `open`: the case exists; no vendor has been told yet, so no deadline runs (unless an
  embargo date was agreed).
- `vendors_notified`: the vendors were told; the disclosure clock runs from here.
- `fix_pending`: a vendor confirmed it is affected and is preparing a fix.
- `fixed`: every vendor is fixed or not affected.
- `published`: the vulnerabilities went public (the publication job, issue 14 part 4, moves a
  case here; the API refuses it as a manual move).
- `closed`: terminal; a case that ends without publication (withdrawn, handed off) or an
  archived published case.
"""

from __future__ import annotations

from enum import StrEnum

from clearinghouse.core.errors import IllegalTransition


class CaseState(StrEnum):
    open = "open"
    vendors_notified = "vendors_notified"
    fix_pending = "fix_pending"
    fixed = "fixed"
    published = "published"
    closed = "closed"


C = CaseState

TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    C.open: frozenset({C.vendors_notified, C.closed}),
    C.vendors_notified: frozenset({C.fix_pending, C.fixed, C.published, C.closed}),
    C.fix_pending: frozenset({C.fixed, C.published, C.closed}),
    C.fixed: frozenset({C.published, C.closed}),
    C.published: frozenset({C.closed}),
    C.closed: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# States in which the vendors have been told: the disclosure deadline runs.
NOTIFIED = frozenset({C.vendors_notified, C.fix_pending, C.fixed})
# States in which the case still changes (participants, statuses, messages, artifacts).
ACTIVE = frozenset({C.open, C.vendors_notified, C.fix_pending, C.fixed})
# Moves only the publication job makes (issue 14 part 4), never a person through the API.
AUTOMATIC_ONLY = frozenset({C.published})


def check_transition(current: CaseState, target: CaseState) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal state)"
        raise IllegalTransition(
            f"a case cannot go from {current.value} to {target.value}; allowed: {allowed}",
            current=current.value,
            target=target.value,
        )
