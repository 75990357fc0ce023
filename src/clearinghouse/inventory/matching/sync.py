"""Incremental matching of record changes, without a hook in every place that changes a record.

A periodic job (`inventory.sync_vulns`) matches against the indexed components
(`apply.match_vuln`: candidates through (ecosystem, name), no rescan):

- the records changed since its mark (`updated_at`, indexed: every import, triage, merge,
  withdrawal and publication moves it), read from the mark less an overlap, so that a write
  transaction that committed late, stamped before a change already seen, is not skipped;
- the records whose embargo ended since its last run (an embargo ends by the clock and changes
  no row, and until then an operator outside the case saw nothing).

A round runs only when something changed since the mark (or an embargo ended): the overlap is
read again once per new change, never on every tick. It reads the records a batch at a time in
(updated_at, id) order; a full batch queues the next batch of the same round with its position
(a continuation job), so a bulk import of any size makes progress and never loops. Matching is
idempotent, so a record read twice changes nothing the second time.

While no component is stored at all, a round only moves the mark: an SBOM uploaded later is
matched against every record by `inventory.match_sbom`.

Known limit: a write that commits more than `OVERLAP` after the time it stamped, while other
changes were synced meanwhile, is matched only when a later change starts a round (or by the
next SBOM upload of an affected asset)."""

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
BATCH = 2000  # records one job matches; a full batch queues the round's next batch
_ROW = 1


@dataclass(frozen=True)
class SyncResult:
    matched: int
    opened: int
    closed: int
    after: tuple[datetime, str] | None  # where the round's next batch starts; None: done


def _match(session: Session, vuln_ids: list[str]) -> tuple[int, int]:
    opened = closed = 0
    if vuln_ids and session.scalar(select(exists().where(Component.id.is_not(None)))):
        for vuln_id in vuln_ids:
            result = apply.match_vuln(session, vuln_id)
            opened += result.get("opened", 0)
            closed += result.get("closed", 0) + result.get("withdrawn", 0)
    return opened, closed


def sync_vulns(
    session: Session, now: datetime | None = None, after: tuple[datetime, str] | None = None
) -> SyncResult:
    """One batch of a round: the round's first when `after` is None, else the batch after
    that (updated_at, id) position."""
    now = now or utcnow()
    state = session.get(VulnSync, _ROW, with_for_update=True)
    if state is None:
        # The first run: nothing stored before it needs this path (SBOM uploads match every
        # record themselves), so the sync starts from now.
        session.add(VulnSync(id=_ROW, updated_mark=now, checked_at=now))
        return SyncResult(0, 0, 0, None)
    ended: list[str] = []
    if after is None:
        ended = list(
            session.scalars(
                select(Vulnerability.id).where(
                    Vulnerability.embargo_until > state.checked_at - OVERLAP,
                    Vulnerability.embargo_until <= now,
                )
            )
        )
        state.checked_at = now
        changed = session.scalar(
            select(exists().where(Vulnerability.updated_at > state.updated_mark))
        )
        if not changed:
            opened, closed = _match(session, ended)
            return SyncResult(len(ended), opened, closed, None)
        after = (state.updated_mark - OVERLAP, "")
    at, last_id = after
    rows = session.execute(
        select(Vulnerability.id, Vulnerability.updated_at)
        .where(
            or_(
                Vulnerability.updated_at > at,
                and_(Vulnerability.updated_at == at, Vulnerability.id > last_id),
            )
        )
        .order_by(Vulnerability.updated_at, Vulnerability.id)
        .limit(BATCH)
    ).all()
    opened, closed = _match(session, sorted({*ended, *(vid for vid, _ in rows)}))
    if rows:
        state.updated_mark = max(state.updated_mark, rows[-1][1])
    nxt = (rows[-1][1], rows[-1][0]) if len(rows) == BATCH else None
    return SyncResult(len(rows) + len(ended), opened, closed, nxt)
