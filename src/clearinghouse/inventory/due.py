"""When an exposure is due: configurable policies over KEV, the SSVC outcome and severity.

The settings block "inventory due dates" (`core/config.py`, `CLEARINGHOUSE_INVENTORY_DUE_*`)
holds the policy; `due_at` applies it. Every applicable rule gives a date and the EARLIEST wins
(a stricter rule is never loosened by a laxer one); the reason names the rule that decided.

1. **KEV** (`inventory_due_use_kev`, on by default): a KEV-listed exposure is due by the KEV
   entry's `dueDate`, end of that day UTC. CISA sets that date for each entry under Binding
   Operational Directive 22-01 (two weeks for recent CVEs, three weeks in most current entries).
   An old entry's date can already be past when the exposure opens: the exposure is overdue from
   the start, which is the truth (it has been exploited for that long).
2. **SSVC outcome** (`inventory_due_ssvc_days`), default Act 3 days, Attend 14, Track* 60,
   Track 180. The first three are CISA's BOD 26-04 remediation timelines (3, 14 and 60 days,
   as CERT/CC's SSVC repository publishes them: `cisa:BOD2604:1.0.0`); CISA's own words for its
   tree are "as soon as possible" (Act), "sooner than standard update timelines" (Attend) and
   "within standard update timelines" (Track*, Track). BOD 26-04's loosest value is "fix on
   system upgrade", which has no date, so Track gets 180 days, the usual standard cycle
   (FedRAMP's for low risks).
3. **Severity** (`inventory_due_severity_days`), only when no SSVC outcome is known: critical
   15 days and high 30 (CISA BOD 19-02), medium 90 and low 180 (FedRAMP continuous monitoring),
   unknown 90 (as medium: a missing score is not a low one). Severity `none` has no due date.

A rule whose key the settings leave out does not apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from clearinghouse.core.config import Settings, default_due_severity_days, default_due_ssvc_days
from clearinghouse.core.errors import InvalidInput


class DueInputInvalid(InvalidInput):
    """`due_at` got a naive datetime (code `due_input_invalid`)."""

    default_code = "due_input_invalid"
    title = "Invalid due-date input"


@dataclass(frozen=True)
class DuePolicy:
    use_kev: bool = True
    ssvc_days: dict[str, int] = field(
        default_factory=lambda: {str(k): v for k, v in default_due_ssvc_days().items()}
    )
    severity_days: dict[str, int] = field(
        default_factory=lambda: {str(k): v for k, v in default_due_severity_days().items()}
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> DuePolicy:
        return cls(
            use_kev=settings.inventory_due_use_kev,
            ssvc_days={str(k): v for k, v in settings.inventory_due_ssvc_days.items()},
            severity_days={str(k): v for k, v in settings.inventory_due_severity_days.items()},
        )


def due_at(
    opened_at: datetime,
    ssvc: str | None,
    severity: str | None,
    kev_due: date | None,
    policy: DuePolicy | None = None,
) -> tuple[datetime | None, str]:
    """The exposure's due date and the rule that set it (`kev: ...`, `ssvc: ...`,
    `severity: ...`), or (None, `none: ...`) when no rule applies."""
    if opened_at.tzinfo is None:
        raise DueInputInvalid("opened_at must carry a time zone")
    policy = policy or DuePolicy()
    opened = opened_at.astimezone(UTC)
    candidates: list[tuple[datetime, str]] = []
    if policy.use_kev and kev_due is not None:
        at = datetime.combine(kev_due, time(23, 59, 59), UTC)
        candidates.append((at, f"kev: the KEV entry's due date {kev_due.isoformat()}"))
    if ssvc is not None and ssvc in policy.ssvc_days:
        days = policy.ssvc_days[ssvc]
        candidates.append((opened + timedelta(days=days), f"ssvc: {ssvc}, {days} days"))
    elif ssvc is None and severity is not None and severity in policy.severity_days:
        days = policy.severity_days[severity]
        candidates.append(
            (opened + timedelta(days=days), f"severity: {severity}, {days} days (no SSVC outcome)")
        )
    if not candidates:
        return None, "none: no due-date rule applies"
    # The earliest wins; on a tie the first listed (KEV, then SSVC) names the reason.
    return min(candidates, key=lambda c: c[0])
