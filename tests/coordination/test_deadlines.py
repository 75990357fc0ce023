"""The disclosure deadline engine's tables (OpenSSF model outbound policy): each row is a case's
facts at an instant, and the deadline and rule it must give. Pure: no clock, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from clearinghouse.coordination.deadlines import (
    DEFAULT_POLICY,
    Adjustment,
    CaseFacts,
    DeadlinePolicy,
    Rule,
    VendorFacts,
    compute,
    load_policy,
)
from clearinghouse.core.errors import ConfigurationError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday: the vendors are notified


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


ANSWERED = VendorFacts("under_investigation", first_response_at=day(3), status_at=day(3))
SILENT = VendorFacts()


@dataclass(frozen=True)
class Row:
    name: str
    facts: CaseFacts
    now: datetime
    at: datetime | None
    rule: Rule
    policy: DeadlinePolicy = DEFAULT_POLICY


ROWS = [
    Row("not notified, no embargo: no deadline", CaseFacts(), day(0), None, Rule.none),
    Row(
        "not notified, embargo agreed: the embargo date",
        CaseFacts(embargo_until=day(60)),
        day(0),
        day(60),
        Rule.embargo,
    ),
    Row(
        "standard: 90 days from notification",
        CaseFacts(notified_at=T0, vendors=[ANSWERED]),
        day(10),
        day(90),
        Rule.standard,
    ),
    Row(
        "an agreed embargo date replaces the 90 days",
        CaseFacts(notified_at=T0, embargo_until=day(120), vendors=[ANSWERED]),
        day(10),
        day(120),
        Rule.embargo,
    ),
    Row(
        "silent vendor, before the 21-day window ends: still 90 days",
        CaseFacts(notified_at=T0, vendors=[SILENT]),
        day(20),
        day(90),
        Rule.standard,
    ),
    Row(
        "silent vendor after 21 days: publication possible at day 35",
        CaseFacts(notified_at=T0, vendors=[SILENT]),
        day(21),
        day(35),
        Rule.no_engagement,
    ),
    Row(
        "a late first answer (day 30, before day 35) restores the 90 days",
        CaseFacts(notified_at=T0, vendors=[VendorFacts(first_response_at=day(30))]),
        day(31),
        day(90),
        Rule.standard,
    ),
    Row(
        "an answer after day 35 does not move the no-engagement date back",
        CaseFacts(notified_at=T0, vendors=[VendorFacts(first_response_at=day(40))]),
        day(41),
        day(35),
        Rule.no_engagement,
    ),
    Row(
        "one of two vendors answered: no early publication",
        CaseFacts(notified_at=T0, vendors=[SILENT, ANSWERED]),
        day(50),
        day(90),
        Rule.standard,
    ),
    Row(
        "fix scheduled within 14 days after the deadline: +14 days",
        CaseFacts(
            notified_at=T0,
            vendors=[VendorFacts("affected", day(2), fix_scheduled_for=day(100))],
        ),
        day(50),
        day(104),
        Rule.fix_scheduled,
    ),
    Row(
        "fix scheduled before the deadline: no extension needed",
        CaseFacts(
            notified_at=T0, vendors=[VendorFacts("affected", day(2), fix_scheduled_for=day(80))]
        ),
        day(50),
        day(90),
        Rule.standard,
    ),
    Row(
        "fix scheduled too far out: no extension",
        CaseFacts(
            notified_at=T0, vendors=[VendorFacts("affected", day(2), fix_scheduled_for=day(105))]
        ),
        day(50),
        day(90),
        Rule.standard,
    ),
    Row(
        "KEV listing mid-embargo (day 50): 7 days later",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], exploited_at=day(50)),
        day(50),
        day(57),
        Rule.exploited,
    ),
    Row(
        "KEV listing dated in the future of `now` is not known yet",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], exploited_at=day(50)),
        day(49),
        day(90),
        Rule.standard,
    ),
    Row(
        "exploited before notification: 7 days from notification",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], exploited_at=day(-30)),
        day(1),
        day(7),
        Rule.exploited,
    ),
    Row(
        "KEV listing on day 88: the 90-day deadline is earlier and stays",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], exploited_at=day(88)),
        day(88),
        day(90),
        Rule.standard,
    ),
    Row(
        "every vendor fixed at day 30: 7-day grace",
        CaseFacts(
            notified_at=T0,
            vendors=[
                VendorFacts("fixed", day(2), status_at=day(30)),
                VendorFacts("not_affected", day(5), status_at=day(12)),
            ],
        ),
        day(31),
        day(37),
        Rule.all_fixed,
    ),
    Row(
        "one vendor fixed, another still affected: no early publication",
        CaseFacts(
            notified_at=T0,
            vendors=[VendorFacts("fixed", day(2), status_at=day(30)), VendorFacts("affected")],
        ),
        day(31),
        day(90),
        Rule.standard,
    ),
    Row(
        "a fix arriving on the last day: the deadline does not move later",
        CaseFacts(notified_at=T0, vendors=[VendorFacts("fixed", day(2), status_at=day(90))]),
        day(90),
        day(90),
        Rule.standard,
    ),
    Row(
        "a fix arriving on the last day of a fix-scheduled extension: grace inside it",
        CaseFacts(
            notified_at=T0,
            vendors=[
                VendorFacts("fixed", day(2), fix_scheduled_for=day(100), status_at=day(95)),
                VendorFacts("affected", day(2), fix_scheduled_for=day(101)),
            ],
        ),
        day(95),
        day(104),
        Rule.fix_scheduled,
    ),
    Row(
        "coordinator extends by 30 days, with reason",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], adjustments=[Adjustment(30, day(20))]),
        day(21),
        day(120),
        Rule.standard,
    ),
    Row(
        "coordinator shortens by 20 days",
        CaseFacts(notified_at=T0, vendors=[ANSWERED], adjustments=[Adjustment(-20, day(20))]),
        day(21),
        day(70),
        Rule.standard,
    ),
    Row(
        "extension then KEV listing: the listing supersedes the earlier extension",
        CaseFacts(
            notified_at=T0,
            vendors=[ANSWERED],
            exploited_at=day(50),
            adjustments=[Adjustment(30, day(20))],
        ),
        day(51),
        day(57),
        Rule.exploited,
    ),
    Row(
        "KEV listing then an extension by the coordinator: the extension counts",
        CaseFacts(
            notified_at=T0,
            vendors=[ANSWERED],
            exploited_at=day(50),
            adjustments=[Adjustment(3, day(52))],
        ),
        day(52),
        day(60),
        Rule.exploited,
    ),
    Row(
        "weekend rollover: day 89 is a Saturday, moved to Monday",
        CaseFacts(notified_at=T0 - timedelta(days=1), vendors=[ANSWERED]),
        day(10),
        day(91),
        Rule.standard,
        DeadlinePolicy(skip_weekends=True),
    ),
    Row(
        "weekends not configured: Saturday stays",
        CaseFacts(notified_at=T0 - timedelta(days=1), vendors=[ANSWERED]),
        day(10),
        day(89),
        Rule.standard,
    ),
    Row(
        "a holiday on the deadline (a Friday), then the weekend: Monday",
        CaseFacts(notified_at=T0 - timedelta(days=2), vendors=[ANSWERED]),
        day(10),
        day(91),
        Rule.standard,
        DeadlinePolicy(skip_weekends=True, holidays=(day(88).date(),)),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_deadline_table(row: Row) -> None:
    got = compute(row.facts, row.now, row.policy)
    assert (got.at, got.rule) == (row.at, row.rule)


def test_weekday_assumptions_of_the_table() -> None:
    assert T0.weekday() == 0
    assert day(88).weekday() == 4 and day(89).weekday() == 5 and day(91).weekday() == 0


def test_the_deadline_reports_its_response_window_and_adjustments() -> None:
    got = compute(
        CaseFacts(notified_at=T0, vendors=[ANSWERED], adjustments=[Adjustment(5, day(1))]), day(2)
    )
    assert got.response_due == day(21) and got.adjusted_days == 5
    assert got.candidates == {"standard": day(90)}


def test_policy_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("disclosure_days: 45\nholidays: [2026-12-25]\nskip_weekends: true\n")
    policy = load_policy(path)
    assert policy.disclosure_days == 45 and policy.holidays == (date(2026, 12, 25),)
    assert policy.first_response_days == 21
    assert load_policy(None) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "text", ["disclosure_days: -1\n", "disclosure_dayz: 10\n", "- a list\n", "a: [unclosed\n"]
)
def test_a_bad_policy_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    """The adversary is a typo in the operator's file: never a silent fallback to defaults."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert caught.value.code == "deadline_policy_invalid"
