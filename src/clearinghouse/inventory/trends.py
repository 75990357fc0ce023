"""Open exposures by severity over time (issue 16's operator charts), per UTC day, computed from
`opened_at` and `closed_at` over the exposures the caller may list (the policy's list scope
"exposure", as inventory.metrics), so an operator's trend is its own and a coordinator's covers
every operator.

An exposure counts as open at the end of day D when it was opened before D ended and was not
closed by then (`closed_at` NULL or after D). So the count at the end of D is
(opened before the end of D) - (closed before the end of D), which SQL gives as a baseline
before the window plus one GROUP BY per day for openings and one for closings: the cost grows
with the window's days and severities, not with a per-day scan of the table.

Limitation: an exposure keeps only its last `closed_at`; one closed and later reopened counts as
open since it was first opened (its interim closed days are not known from these columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal, list_scope
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.inventory.exposures import SEVERITIES, outs
from clearinghouse.inventory.models import OPEN_STATUSES, SECTORS, Asset, Exposure
from clearinghouse.inventory.schemas_exposures import ExposureOut

MAX_DAYS = 366
MAX_OVERDUE = 200


@dataclass(frozen=True)
class Trend:
    """`days[i]`'s open count per severity is `series[severity][i]` (every severity listed)."""

    days: list[date]
    series: dict[str, list[int]]


def _day(session: Session, column: Any) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp column, as YYYY-MM-DD."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite stores UTC as "YYYY-MM-DD HH:MM:SS..."


def _counts(session: Session, query: Any) -> dict[str, int]:
    return {str(sev): int(n) for sev, n in session.execute(query)}


def _by_day(session: Session, query: Any) -> dict[tuple[str, str], int]:
    return {(str(sev), str(day)): int(n) for sev, day, n in session.execute(query)}


def _scope(p: Principal, sector: str | None) -> list[ColumnElement[bool]]:
    """The caller's list scope, and the sector's assets (checked as inventory.metrics does)."""
    where = [list_scope(p, "exposure").clause(Exposure)]
    if sector is not None:
        if sector not in SECTORS:
            raise InvalidInput(
                f"sector must be one of CISA's 16 sector slugs ({', '.join(SECTORS)})",
                code="sector_invalid",
                field="sector",
            )
        where.append(Exposure.asset_id.in_(select(Asset.id).where(Asset.sector == sector)))
    return where


def open_by_severity(
    session: Session,
    p: Principal,
    *,
    days: int = 90,
    today: date | None = None,
    sector: str | None = None,
) -> Trend:
    """The open exposures per severity at the end of each of the last `days` UTC days, the
    last being `today` (default: the current UTC day); of one sector's assets if given."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", code="trend_days_invalid")
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    scope = _scope(p, sector)
    sev = Exposure.severity

    def grouped(*where: ColumnElement[bool]) -> Any:
        return select(sev, func.count()).where(*scope, *where).group_by(sev)

    opened_before = _counts(session, grouped(Exposure.opened_at < start))
    closed_before = _counts(session, grouped(Exposure.closed_at < start))
    opened_day = _day(session, Exposure.opened_at)
    closed_day = _day(session, Exposure.closed_at)
    opened = _by_day(
        session,
        select(sev, opened_day, func.count())
        .where(*scope, Exposure.opened_at >= start, Exposure.opened_at < end)
        .group_by(sev, opened_day),
    )
    closed = _by_day(
        session,
        select(sev, closed_day, func.count())
        .where(*scope, Exposure.closed_at >= start, Exposure.closed_at < end)
        .group_by(sev, closed_day),
    )
    calendar = [first + timedelta(days=i) for i in range(days)]
    found = {s for s, _ in opened} | set(opened_before)
    severities: Sequence[str] = [*SEVERITIES, *sorted(found - set(SEVERITIES))]
    series: dict[str, list[int]] = {}
    for s in severities:
        running = opened_before.get(s, 0) - closed_before.get(s, 0)
        counts = []
        for d in calendar:
            key = (s, d.isoformat())
            running += opened.get(key, 0) - closed.get(key, 0)
            counts.append(running)
        series[s] = counts
    return Trend(days=calendar, series=series)


def overdue(
    session: Session, p: Principal, *, limit: int = 20, sector: str | None = None
) -> list[ExposureOut]:
    """The open exposures past their due date that the caller may list (of one sector's assets
    if given), the longest overdue first, as the API shows exposures
    (`inventory.exposures.outs`)."""
    if not 1 <= limit <= MAX_OVERDUE:
        raise InvalidInput(f"limit must be between 1 and {MAX_OVERDUE}", code="limit_invalid")
    rows = session.scalars(
        select(Exposure)
        .where(
            *_scope(p, sector),
            Exposure.status.in_(sorted(s.value for s in OPEN_STATUSES)),
            Exposure.due_at < utcnow(),
        )
        .order_by(Exposure.due_at, Exposure.id)
        .limit(limit)
    )
    return outs(session, list(rows))
