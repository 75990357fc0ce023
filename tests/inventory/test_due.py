"""Due dates from the configured policies: KEV's dueDate, the SLA per SSVC outcome, the
severity fallback; the earliest applicable date wins and the reason says which rule set it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from clearinghouse.core.config import Settings
from clearinghouse.inventory.due import DueInputInvalid, DuePolicy, due_at

OPENED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
D = timedelta(days=1)
KEV_LATE = date(2027, 3, 1)  # later than every SSVC SLA but Track's
KEV_SOON = date(2026, 12, 8)  # earlier than Attend's 14 days, later than Act's 3
KEV_PAST = date(2022, 1, 10)  # an old catalogue entry


def eod(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ssvc", "severity", "kev_due", "expected", "rule"),
    [
        # SSVC outcome, the defaults: Act 3, Attend 14, Track* 60, Track 180.
        ("Act", "low", None, OPENED + 3 * D, "ssvc: Act, 3 days"),
        ("Attend", "critical", None, OPENED + 14 * D, "ssvc: Attend, 14 days"),
        ("Track*", None, None, OPENED + 60 * D, "ssvc: Track*, 60 days"),
        ("Track", "critical", None, OPENED + 180 * D, "ssvc: Track, 180 days"),
        # Severity only when no SSVC outcome is known.
        (None, "critical", None, OPENED + 15 * D, "severity: critical, 15 days"),
        (None, "high", None, OPENED + 30 * D, "severity: high, 30 days"),
        (None, "medium", None, OPENED + 90 * D, "severity: medium, 90 days"),
        (None, "low", None, OPENED + 180 * D, "severity: low, 180 days"),
        (None, "unknown", None, OPENED + 90 * D, "severity: unknown, 90 days"),
        (None, "none", None, None, "none"),
        (None, None, None, None, "none"),
        # KEV: its dueDate, unless an SSVC SLA is stricter; the earliest wins.
        ("Attend", "high", KEV_SOON, eod(KEV_SOON), "kev"),
        ("Act", "high", KEV_SOON, OPENED + 3 * D, "ssvc: Act"),
        ("Track", "low", KEV_LATE, eod(KEV_LATE), "kev"),
        ("Attend", "low", KEV_LATE, OPENED + 14 * D, "ssvc: Attend"),
        (None, None, KEV_LATE, eod(KEV_LATE), "kev"),
        (None, "critical", KEV_LATE, OPENED + 15 * D, "severity: critical"),
        # An old KEV entry: overdue from the start, as it is.
        ("Act", "critical", KEV_PAST, eod(KEV_PAST), "kev: the KEV entry's due date 2022-01-10"),
        # An outcome the policy does not know gets no SSVC date (and no severity fallback).
        ("Unknown*", "critical", None, None, "none"),
    ],
)
def test_due_at_by_the_default_policy(
    ssvc: str | None,
    severity: str | None,
    kev_due: date | None,
    expected: datetime | None,
    rule: str,
) -> None:
    at, reason = due_at(OPENED, ssvc, severity, kev_due)
    assert at == expected
    assert reason.startswith(rule)


def test_the_settings_configure_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_INVENTORY_DUE_USE_KEV", "false")
    monkeypatch.setenv("CLEARINGHOUSE_INVENTORY_DUE_SSVC_DAYS", '{"Act": 1, "Attend": 7}')
    monkeypatch.setenv("CLEARINGHOUSE_INVENTORY_DUE_SEVERITY_DAYS", '{"critical": 5}')
    policy = DuePolicy.from_settings(Settings())  # type: ignore[call-arg]
    assert due_at(OPENED, "Act", None, KEV_SOON, policy) == (OPENED + D, "ssvc: Act, 1 days")
    # KEV is off; Track is left out of the SSVC policy: no date from either.
    assert due_at(OPENED, "Track", "critical", KEV_SOON, policy)[0] is None
    assert due_at(OPENED, None, "critical", None, policy)[0] == OPENED + 5 * D
    assert due_at(OPENED, None, "high", None, policy)[0] is None


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("CLEARINGHOUSE_INVENTORY_DUE_SSVC_DAYS", '{"Act": -1}'),
        ("CLEARINGHOUSE_INVENTORY_DUE_SSVC_DAYS", '{"Immediate": 1}'),
        ("CLEARINGHOUSE_INVENTORY_DUE_SEVERITY_DAYS", '{"high": 100000}'),
        ("CLEARINGHOUSE_INVENTORY_DUE_SEVERITY_DAYS", "thirty"),
    ],
)
def test_a_bad_policy_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises((ValidationError, ValueError)):
        Settings()  # type: ignore[call-arg]


def test_the_default_policy_is_the_settings_default() -> None:
    assert DuePolicy() == DuePolicy.from_settings(Settings())  # type: ignore[call-arg]


def test_another_time_zone_is_the_same_instant_and_naive_is_refused() -> None:
    paris = OPENED.astimezone(timezone(timedelta(hours=1)))
    assert due_at(paris, "Act", None, None) == due_at(OPENED, "Act", None, None)
    with pytest.raises(DueInputInvalid):
        due_at(OPENED.replace(tzinfo=None), "Act", None, None)
