"""Incremental matching of record changes, without a hook in every place that changes a record.

A periodic job (`inventory.sync_vulns`) reads the records changed since its mark (`updated_at`,
indexed: every import, triage, merge, withdrawal and publication moves it) and the records whose
embargo ended since its last run (an embargo ends by the clock and changes no row, and until
then an operator outside the case saw nothing), and matches each against the indexed components
(`apply.match_vuln`: candidates through (ecosystem, name), no rescan). It is idempotent, so the
mark is read with an overlap: a transaction that committed late with an earlier `updated_at` is
never skipped, and one matched twice changes nothing the second time.

While no component is stored at all, the sync only moves its mark: an SBOM uploaded later is
matched against every record by `inventory.match_sbom`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.matching import apply
from clearinghouse.inventory.models import Component, VulnSync
from clearinghouse.vulns.models import Vulnerability

OVERLAP = timedelta(minutes=5)
BATCH = 2000  # records a run matches; the rest wait for the next run (the mark says where)
_ROW = 1


@dataclass(frozen=True)
class SyncResult:
    matched: int
    opened: int
    closed: int
    more: bool  # the batch was full: run again


def sync_vulns(session: Session, now: datetime | None = None) -> SyncResult:
    now = now or utcnow()
    state = session.get(VulnSync, _ROW, with_for_update=True)
    if state is None:
        # The first run: nothing stored before it needs this path (SBOM uploads match every
        # record themselves), so the sync starts from now.
        session.add(VulnSync(id=_ROW, updated_mark=now, checked_at=now))
        return SyncResult(0, 0, 0, more=False)
    rows = session.execute(
        select(Vulnerability.id, Vulnerability.updated_at)
        .where(
            or_(
                Vulnerability.updated_at > state.updated_mark - OVERLAP,
                and_(
                    Vulnerability.embargo_until > state.checked_at - OVERLAP,
                    Vulnerability.embargo_until <= now,
                ),
            )
        )
        .order_by(Vulnerability.updated_at, Vulnerability.id)
        .limit(BATCH)
    ).all()
    more = len(rows) == BATCH
    opened = closed = 0
    if rows and session.scalar(select(exists().where(Component.id.is_not(None)))):
        for vuln_id, _ in rows:
            result = apply.match_vuln(session, vuln_id)
            opened += result.get("opened", 0)
            closed += result.get("closed", 0) + result.get("withdrawn", 0)
    if rows:
        state.updated_mark = max(state.updated_mark, max(at for _, at in rows))
    if not more:
        state.checked_at = now
    return SyncResult(len(rows), opened, closed, more)
