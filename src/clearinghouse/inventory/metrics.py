"""Inventory metrics (issue 15, part 6): open exposures by severity, SSVC outcome, sector and
KEV; overdue items; mean and p90 time to remediate. All computed in SQL over the exposures the
caller may list (the policy's list scope "exposure"), so an operator's figures are its own and
a coordinator's cover every operator.

Definitions:
- *open*: status `open` or `in_progress` (mitigated, accepted and closed ones are not open);
- *overdue*: open with a due date in the past;
- *time to remediate*: from `opened_at` to the exposure's `remediated` event (the status is
  final, so there is one), in days; the mean, and the p90 by the nearest-rank method (the
  smallest value with at least 90% of the values at or below it: `ORDER BY ... OFFSET
  ceil(0.9 n) - 1`, the same SQL on SQLite and PostgreSQL, which has no common percentile
  function). No remediated exposure: both are null.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal, list_scope
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.inventory.models import (
    OPEN_STATUSES,
    SECTORS,
    Asset,
    Exposure,
    ExposureEvent,
    ExposureStatus,
)
from clearinghouse.inventory.schemas_exposures import Metrics

_OPEN = sorted(s.value for s in OPEN_STATUSES)


def _days(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float) / 86400.0
    return func.julianday(end) - func.julianday(start)


def metrics(session: Session, p: Principal, *, sector: str | None = None) -> Metrics:
    if sector is not None and sector not in SECTORS:
        raise InvalidInput(
            f"sector must be one of CISA's 16 sector slugs ({', '.join(SECTORS)})",
            code="sector_invalid",
            field="sector",
        )
    scope = list_scope(p, "exposure").clause(Exposure)
    where = [scope]
    if sector is not None:
        where.append(Asset.sector == sector)

    def base(*columns: Any) -> Any:
        return select(*columns).select_from(Exposure).join(Asset, Asset.id == Exposure.asset_id)

    def grouped(column: Any) -> dict[str, int]:
        rows = session.execute(
            base(column, func.count())
            .where(*where, Exposure.status.in_(_OPEN))
            .group_by(column)
            .order_by(column)
        )
        return {("none" if k is None else str(k)): int(n) for k, n in rows}

    kev = grouped(Exposure.kev)
    by_kev = {"true": kev.get("True", 0), "false": kev.get("False", 0)}
    overdue = session.scalar(
        base(func.count()).where(*where, Exposure.status.in_(_OPEN), Exposure.due_at < utcnow())
    )
    days = _days(session, Exposure.opened_at, ExposureEvent.at).label("days")
    remediated = (
        base(days)
        .join(ExposureEvent, ExposureEvent.exposure_id == Exposure.id)
        .where(*where, ExposureEvent.to_status == ExposureStatus.remediated.value)
    )
    sub = remediated.subquery()
    count, mean = session.execute(select(func.count(), func.avg(sub.c.days)).select_from(sub)).one()
    p90 = None
    if count:
        rank = math.ceil(0.9 * count) - 1
        p90 = session.scalar(select(sub.c.days).order_by(sub.c.days).offset(rank).limit(1))
    by_severity = grouped(Exposure.severity)
    return Metrics(
        open_total=sum(by_severity.values()),
        open_by_severity=by_severity,
        open_by_ssvc=grouped(Exposure.ssvc),
        open_by_sector=grouped(Asset.sector),
        open_by_kev=by_kev,
        overdue=int(overdue or 0),
        remediated=int(count),
        mean_days_to_remediate=None if mean is None else round(float(mean), 4),
        p90_days_to_remediate=None if p90 is None else round(float(p90), 4),
    )
