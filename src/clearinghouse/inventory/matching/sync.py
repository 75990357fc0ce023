"""Incremental matching of record changes, without a hook in every place that changes a record.

A periodic job (`inventory.sync_vulns`) matches against the indexed components
(`apply.match_vuln`: candidates through (ecosystem, name), no rescan):

- the records changed since its mark (`updated_at`, indexed: every import, triage, merge,
  withdrawal and publication moves it), read from the mark less an overlap, so that a write
  transaction that committed late, stamped before a change already seen, is not skipped;
- the records whose embargo ended since its last run (an embargo ends by the clock and changes
  no row, and until then an operator outside the case saw nothing);
- the records whose id or alias is a CVE whose KEV entry was added or changed since its last
  run (`KevEntry.changed_at`, less the overlap), and the other records of their coordination
  cases (a case's exploitation is `active` once any of its CVEs is KEV-listed): their standing
  exposures are reprioritised (`SyncResult.kev_vulns`; KEV flag, SSVC exploitation, KEV due
  date), and no other exposure is touched. A KEV import (`vulns`, which may not import
  `inventory`) needs no hook; the latency is the periodic interval. Within the overlap an
  entry is read again on the next runs, which changes nothing (prioritisation is idempotent).

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

from clearinghouse.coordination.models import CaseVuln
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.matching import apply
from clearinghouse.inventory.models import OPEN_STATUSES, Component, Exposure, VulnSync
from clearinghouse.vulns.models import KevEntry, Vulnerability, VulnerabilityAlias

OVERLAP = timedelta(minutes=5)
BATCH = 2000  # records one job matches; a full batch queues the round's next batch
_ROW = 1


@dataclass(frozen=True)
class SyncResult:
    matched: int
    opened: int
    closed: int
    after: tuple[datetime, str] | None  # where the round's next batch starts; None: done
    kev_vulns: tuple[str, ...] = ()  # records whose KEV facts changed: reprioritise their exposures


def _kev_changed(session: Session, since: datetime) -> tuple[str, ...]:
    """The records whose id or alias is a CVE whose KEV entry changed since `since`, with the
    other records of their coordination cases, and the records whose KEV entry was removed."""
    cves = select(KevEntry.cve_id).where(KevEntry.changed_at > since)
    named = select(VulnerabilityAlias.vuln_id).where(VulnerabilityAlias.alias.in_(cves))
    # An entry a whole catalog no longer lists is deleted (vulns.intake.kev): the records
    # whose standing exposures still carry the flag with no entry left behind it. Few rows:
    # the flagged exposures only (indexed on kev).
    unlisted = (
        select(Exposure.vuln_id)
        .where(
            Exposure.kev.is_(True),
            Exposure.status.in_(sorted(OPEN_STATUSES)),
            ~exists().where(
                VulnerabilityAlias.vuln_id == Exposure.vuln_id,
                VulnerabilityAlias.alias == KevEntry.cve_id,
            ),
        )
        .distinct()
    )
    records = {*session.scalars(named), *session.scalars(unlisted)}
    cases = select(CaseVuln.case_id).where(CaseVuln.vuln_id.in_(records))
    siblings = select(CaseVuln.vuln_id).where(CaseVuln.case_id.in_(cases))
    return tuple(sorted({*records, *session.scalars(siblings)}))


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
    kev: tuple[str, ...] = ()
    if after is None:
        kev = _kev_changed(session, state.checked_at - OVERLAP)
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
            return SyncResult(len(ended), opened, closed, None, kev)
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
    return SyncResult(len(rows) + len(ended), opened, closed, nxt, kev)
