"""The submission state machine, and the review window.

    submitted ──verify-access──▶ access_verified ──▶ testing ──▶ findings_drafted
        │                              │                │               │
        │                              ▼                ▼               ▼ deliver
        └──────────────▶ lapsed ◀──────┴────────────────┴───── report_delivered ──▶ closed
    (any non-terminal state) ──▶ withdrawn

No state means "approved" or "cleared": the program never grants or withholds permission to
release. `closed`, `lapsed` and `withdrawn` are terminal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from clearinghouse.core.errors import IllegalTransition


class SubmissionState(StrEnum):
    submitted = "submitted"
    access_verified = "access_verified"
    testing = "testing"
    findings_drafted = "findings_drafted"
    report_delivered = "report_delivered"
    closed = "closed"
    lapsed = "lapsed"
    withdrawn = "withdrawn"


S = SubmissionState

TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    S.submitted: frozenset({S.access_verified, S.lapsed, S.withdrawn}),
    S.access_verified: frozenset({S.testing, S.lapsed, S.withdrawn}),
    S.testing: frozenset({S.findings_drafted, S.lapsed, S.withdrawn}),
    S.findings_drafted: frozenset({S.report_delivered, S.lapsed, S.withdrawn}),
    S.report_delivered: frozenset({S.closed, S.withdrawn}),
    S.closed: frozenset(),
    S.lapsed: frozenset(),
    S.withdrawn: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# States in which the review window is open and its deadline can pass.
WINDOW_OPEN = frozenset({S.access_verified, S.testing, S.findings_drafted})
# States in which findings and report versions can be added: testing, or after it until the end.
ACCEPTS_RESULTS = frozenset({S.testing, S.findings_drafted, S.report_delivered})


def check_transition(current: SubmissionState, target: SubmissionState) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal state)"
        raise IllegalTransition(
            f"a submission cannot go from {current.value} to {target.value}; allowed: {allowed}",
            current=current.value,
            target=target.value,
        )


def review_deadline(
    opened_at: datetime, planned_release_at: datetime, window_days: int = 30
) -> tuple[datetime, bool]:
    """`deadline = min(opened_at + window_days, planned_release_at)`, and whether the release
    date shortened it."""
    full = opened_at + timedelta(days=window_days)
    if planned_release_at < full:
        return planned_release_at, True
    return full, False
