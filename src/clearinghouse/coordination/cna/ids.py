"""CVE ids: reserve from CVE Services, list, publish the CNA container, reject unused ones,
and the first-refusal step (CNA rules 4.2.1) before a reservation for a record.

The calls to CVE Services are made with no database transaction open: each operation reads and
checks in one short transaction, calls CVE Services, and records the result with its audit
event in a second one that re-checks the row (as `verify-access` does), so a slow CVE Services
never holds a lock. What CVE Services refuses changes nothing here.

Our ids: only ids with a row in `cve_ids` (reserved by us, through here) are published or
rejected; any other id is `cve_id_not_reserved`. Binding an id to a record puts the id in the
record's aliases and records us as its assigner (`database_specific.cve_assigner`), which is
what makes the CVE 5 exporter (`vulns/publication/cve5.py`) emit our CNA container for it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.coordination.cna.client import (
    CveRecordValidationError,
    CveServices,
    cve_services,
    record_invalid,
)
from clearinghouse.coordination.cna.errors import CnaScopeOther, CveIdNotOurs, CveServicesFailed
from clearinghouse.coordination.cna.models import CnaReferral, CveIdReservation
from clearinghouse.coordination.cna.schemas import (
    CVE_ID_PATTERN,
    CveIdOut,
    CveIdState,
    CvePublish,
    CveReject,
    CveReserve,
    ReferralDecision,
    ReferralOut,
    RefusalDecide,
)
from clearinghouse.coordination.cna.scopes import load_table, owner_of
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, decode_cursor, encode_cursor
from clearinghouse.storage.db import Database
from clearinghouse.vulns.catalog import cwe_names
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.common import cve_of
from clearinghouse.vulns.publication.cve5 import Cna, to_cve5
from clearinghouse.vulns.records import reindex, touch
from clearinghouse.vulns.visibility import is_public, known_id, load_vuln

_CVE_ID = re.compile(CVE_ID_PATTERN)
MAY_ASSIGN = {ReferralDecision.declined.value, ReferralDecision.no_answer.value}


def _out(row: CveIdReservation) -> CveIdOut:
    return CveIdOut(
        cve_id=row.cve_id,
        year=row.year,
        state=CveIdState(row.state),
        vuln_id=row.vuln_id,
        owning_cna=row.owning_cna,
        scope_cna=row.scope_cna,
        referral_id=row.referral_id,
        reserved_by=row.reserved_by,
        reserved_at=row.reserved_at,
        published_at=row.published_at,
        rejected_at=row.rejected_at,
        reject_reason=row.reject_reason,
    )


def _referral_out(vuln_id: str, row: CnaReferral | None) -> ReferralOut:
    if row is None:
        return ReferralOut(
            id=None,
            vuln_id=vuln_id,
            owner_cna=None,
            matched=None,
            state="ours",
            reason=None,
            may_reserve=True,
        )
    return ReferralOut(
        id=row.id,
        vuln_id=row.vuln_id,
        owner_cna=row.owner_cna,
        matched=row.matched,
        state=row.state,
        reason=row.reason,
        may_reserve=row.state in MAY_ASSIGN,
    )


# --- first refusal ------------------------------------------------------------------------


def _first_refusal(
    session: Session, p: Principal, settings: Settings, vuln: Vulnerability
) -> CnaReferral | None:
    """The referral to the CNA that owns the record's product (recorded, pending, the first
    time), or None when no other CNA's scope covers it."""
    owner = owner_of(vuln.record, load_table(settings.cna_scopes_file), settings.cve_cna_short_name)
    if owner is None:
        return None
    row = session.scalar(
        select(CnaReferral).where(
            CnaReferral.vuln_id == vuln.id, CnaReferral.owner_cna == owner.short_name
        )
    )
    if row is not None:
        return row
    row = CnaReferral(
        id=new_id("cnaref"),
        vuln_id=vuln.id,
        owner_cna=owner.short_name,
        matched=owner.matched,
        state="pending",
        created_by=p.user_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        AuditTag.COORDINATION_CNA_REFERRAL_CREATE,
        actor=p.actor,
        subject_type="cna_referral",
        subject_id=row.id,
        data={"vuln_id": vuln.id, "owner_cna": owner.short_name, "matched": owner.matched},
    )
    return row


def first_refusal(session: Session, p: Principal, settings: Settings, vuln_id: str) -> ReferralOut:
    """The first-refusal step for a record: which CNA owns its product (recorded as a pending
    referral the first time), and whether we may reserve an id for it."""
    authorize(p, Action.cve_id_reserve)
    vuln = load_vuln(session, p, vuln_id, Action.cve_id_reserve)
    return _referral_out(vuln.id, _first_refusal(session, p, settings, vuln))


def decide_referral(
    session: Session, p: Principal, referral_id: str, body: RefusalDecide
) -> ReferralOut:
    """A coordinator records what the owning CNA said, with a reason (audited)."""
    authorize(p, Action.cna_referral_decide)
    row = session.get(CnaReferral, known_id("referral", referral_id), with_for_update=True)
    if row is None:
        raise NotFound(f"no CNA referral with id {referral_id!r}")
    before = row.state
    row.state = body.decision.value
    row.reason = body.reason
    row.decided_by = p.user_id
    row.decided_at = utcnow()
    session.flush()
    audit.record(
        session,
        AuditTag.COORDINATION_CNA_REFERRAL_DECIDE,
        actor=p.actor,
        subject_type="cna_referral",
        subject_id=row.id,
        data={
            "vuln_id": row.vuln_id,
            "owner_cna": row.owner_cna,
            "before": before,
            "decision": row.state,
            "reason": body.reason,
        },
    )
    return _referral_out(row.vuln_id, row)


# --- binding an id to a record ------------------------------------------------------------


def _active_id_of(session: Session, vuln_id: str) -> str | None:
    return session.scalar(
        select(CveIdReservation.cve_id).where(
            CveIdReservation.vuln_id == vuln_id,
            CveIdReservation.state != CveIdState.rejected.value,
        )
    )


def _check_unassigned(session: Session, vuln: Vulnerability, cve_id: str | None = None) -> None:
    """The record has no CVE id yet (ours bound to it, or any other CNA's among its aliases);
    `cve_id`: the one being bound, which may already be its own."""
    ours = _active_id_of(session, vuln.id)
    theirs = cve_of(vuln.record)
    for existing in (ours, theirs):
        if existing is not None and existing != cve_id:
            raise Conflict(f"{vuln.id} already has the CVE id {existing}", code="vuln_has_cve_id")


def _bound(record: dict[str, Any], cve_id: str, settings: Settings) -> dict[str, Any]:
    """The record with `cve_id` among its aliases and us as its assigner."""
    aliases = [a for a in record.get("aliases") or [] if a != cve_id]
    specific = dict(record.get("database_specific") or {})
    specific["cve_assigner"] = {
        "orgId": str(settings.cve_cna_org_id),
        "shortName": settings.cve_cna_short_name,
    }
    return {**record, "aliases": [cve_id, *aliases], "database_specific": specific}


def _bind(session: Session, vuln: Vulnerability, cve_id: str, settings: Settings) -> None:
    vuln.record = _bound(vuln.record, cve_id, settings)
    touch(vuln, utcnow())
    session.flush()
    reindex(session, vuln)


# --- reserve ------------------------------------------------------------------------------


def _parse_reserved(answer: Any, org: str) -> list[tuple[str, int]]:
    ids = answer.get("cve_ids") if isinstance(answer, dict) else None
    if not isinstance(ids, list) or not ids:
        raise CveServicesFailed("CVE Services answered a reservation without cve_ids")
    out = []
    for item in ids:
        cve_id = item.get("cve_id") if isinstance(item, dict) else None
        if not isinstance(cve_id, str) or not _CVE_ID.match(cve_id):
            raise CveServicesFailed("CVE Services answered a malformed CVE id")
        owner = item.get("owning_cna")
        if owner is not None and str(owner).lower() != org.lower():
            raise CveServicesFailed(f"CVE Services reserved {cve_id} for {owner!s:.64}, not us")
        out.append((cve_id, int(cve_id[4:8])))
    return out


def reserve(
    db: Database,
    p: Principal,
    settings: Settings,
    body: CveReserve,
    *,
    api: CveServices | None = None,
) -> list[CveIdOut]:
    """Reserve ids from CVE Services. With a `vuln_id` (one id), first refusal applies: a
    record whose product is another CNA's goes there first, and we reserve only once a
    coordinator records that the owner declined or did not answer."""
    referral_id = scope_cna = None
    refusal: CnaScopeOther | None = None
    with db.transaction() as session:
        authorize(p, Action.cve_id_reserve)
        api = api or cve_services(settings)
        if body.vuln_id is not None:
            if body.count != 1:
                raise InvalidInput("reserve one id for a record (count 1)", code="count_with_vuln")
            vuln = load_vuln(session, p, body.vuln_id, Action.cve_id_reserve)
            _check_unassigned(session, vuln)
            referral = _first_refusal(session, p, settings, vuln)
            if referral is not None:
                referral_id, scope_cna = referral.id, referral.owner_cna
                if referral.state not in MAY_ASSIGN:
                    refusal = CnaScopeOther(
                        f"{vuln.id}'s product is in {referral.owner_cna}'s scope "
                        f"({referral.matched}); first refusal: the referral {referral.id} is "
                        f"{referral.state}; a coordinator records that {referral.owner_cna} "
                        "declined or did not answer before we assign",
                        owner_cna=referral.owner_cna,
                        referral_id=referral.id,
                    )
    if refusal is not None:
        raise refusal  # after the commit: the referral it names is recorded
    year = body.year or utcnow().year
    answer = api.reserve(body.count, not body.sequential, str(year))
    reserved = _parse_reserved(answer, settings.cve_cna_short_name)
    now = utcnow()
    with db.transaction() as session:
        bind_to = None
        if body.vuln_id is not None:
            vuln = load_vuln(session, p, body.vuln_id, Action.cve_id_reserve, for_update=True)
            try:
                _check_unassigned(session, vuln)
                bind_to = vuln
            except Conflict:
                bind_to = None  # assigned meanwhile: keep the id, unbound, for another record
        rows = []
        for cve_id, id_year in reserved:
            row = CveIdReservation(
                cve_id=cve_id,
                year=id_year,
                state=CveIdState.reserved.value,
                vuln_id=bind_to.id if bind_to is not None else None,
                owning_cna=settings.cve_cna_short_name,
                scope_cna=scope_cna,
                referral_id=referral_id,
                reserved_by=p.user_id,
                reserved_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            if bind_to is not None:
                _bind(session, bind_to, cve_id, settings)
            audit.record(
                session,
                AuditTag.COORDINATION_CVE_ID_RESERVE,
                actor=p.actor,
                subject_type="cve_id",
                subject_id=cve_id,
                data={
                    "vuln_id": row.vuln_id,
                    "scope_cna": scope_cna,
                    "referral_id": referral_id,
                    "sequential": body.sequential,
                },
            )
            rows.append(row)
        return [_out(r) for r in rows]


# --- read ---------------------------------------------------------------------------------


def list_ids(
    session: Session,
    p: Principal,
    *,
    state: CveIdState | None = None,
    vuln_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[CveIdOut]:
    authorize(p, Action.cve_id_read)
    query = select(CveIdReservation).order_by(CveIdReservation.cve_id).limit(limit + 1)
    if state is not None:
        query = query.where(CveIdReservation.state == state.value)
    if vuln_id is not None:
        query = query.where(CveIdReservation.vuln_id == known_id("vulnerability", vuln_id))
    if cursor:
        query = query.where(CveIdReservation.cve_id > decode_cursor(cursor))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[_out(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].cve_id) if more and rows else None,
    )


def _load(session: Session, cve_id: str, *, for_update: bool = False) -> CveIdReservation:
    row = session.get(CveIdReservation, known_id("CVE id", cve_id), with_for_update=for_update)
    if row is None:
        raise CveIdNotOurs(f"{cve_id} is not a CVE id this instance reserved")
    return row


def get_id(session: Session, p: Principal, cve_id: str) -> CveIdOut:
    authorize(p, Action.cve_id_read)
    return _out(_load(session, cve_id))


def _check_reserved(row: CveIdReservation) -> None:
    if row.state != CveIdState.reserved.value:
        raise Conflict(f"{row.cve_id} is already {row.state}", code=f"cve_id_{row.state}")


# --- publish ------------------------------------------------------------------------------


def cna_container(
    session: Session, settings: Settings, vuln: Vulnerability, cve_id: str
) -> dict[str, Any]:
    """The CNA container of the CVE 5 record the exporter makes for the record with `cve_id`
    bound to it (our assignment)."""
    record = _bound(vuln.record, cve_id, settings)
    doc = to_cve5(
        record, Cna.of(settings), cwe_names(session, vuln.cwe_ids), native=vuln.origin == "report"
    )
    containers = doc.get("containers") or {}
    if doc.get("cveMetadata", {}).get("cveId") != cve_id or "cna" not in containers:
        raise InvalidInput(
            f"the CVE 5 export of {vuln.id} is not a CNA record for {cve_id}",
            code="cve_record_invalid",
        )
    container: dict[str, Any] = containers["cna"]
    return container


def publish(
    db: Database,
    p: Principal,
    settings: Settings,
    cve_id: str,
    body: CvePublish,
    *,
    api: CveServices | None = None,
) -> CveIdOut:
    """Publish the CNA container of the record an id of ours is for. Only a public record
    (published, TLP:CLEAR, out of embargo) goes out: a CVE record is public the moment it is
    sent, so an embargoed record never reaches CVE Services."""
    with db.transaction() as session:
        authorize(p, Action.cve_id_publish)
        api = api or cve_services(settings)
        row = _load(session, cve_id)
        _check_reserved(row)
        vuln_ref = row.vuln_id or body.vuln_id
        if vuln_ref is None:
            raise InvalidInput(
                f"{cve_id} is for no record yet: name one (vuln_id)", code="vuln_id_required"
            )
        vuln = load_vuln(session, p, vuln_ref, Action.cve_id_publish)
        if row.vuln_id is not None and vuln.id != row.vuln_id:
            raise Conflict(f"{cve_id} is for {row.vuln_id}", code="cve_id_bound_elsewhere")
        _check_unassigned(session, vuln, cve_id)
        if not is_public(vuln, utcnow()):
            raise Conflict(
                f"{vuln.id} is not public yet (published, TLP:CLEAR, out of embargo): a CVE "
                "record is public the moment it is sent",
                code="vuln_not_public",
            )
        container = cna_container(session, settings, vuln, cve_id)
        vuln_id = vuln.id
    try:
        api.publish(cve_id, container)
    except CveRecordValidationError as exc:
        raise record_invalid(exc) from None
    with db.transaction() as session:
        row = _load(session, cve_id, for_update=True)
        _check_reserved(row)
        vuln = load_vuln(session, p, vuln_id, Action.cve_id_publish, for_update=True)
        now = utcnow()
        row.state = CveIdState.published.value
        row.published_by, row.published_at, row.updated_at = p.user_id, now, now
        if row.vuln_id is None:
            row.vuln_id = vuln.id
        if cve_of(vuln.record) != cve_id or "cve_assigner" not in (
            vuln.record.get("database_specific") or {}
        ):
            _bind(session, vuln, cve_id, settings)
        session.flush()
        audit.record(
            session,
            AuditTag.COORDINATION_CVE_ID_PUBLISH,
            actor=p.actor,
            subject_type="cve_id",
            subject_id=cve_id,
            data={"vuln_id": vuln.id},
        )
        return _out(row)


# --- reject -------------------------------------------------------------------------------


def reject(
    db: Database,
    p: Principal,
    settings: Settings,
    cve_id: str,
    body: CveReject,
    *,
    api: CveServices | None = None,
) -> CveIdOut:
    """Reject an unused id of ours (a REJECTED record with the reason at CVE Services)."""
    with db.transaction() as session:
        authorize(p, Action.cve_id_reject)
        api = api or cve_services(settings)
        row = _load(session, cve_id)
        _check_reserved(row)
        if row.vuln_id is not None:
            raise Conflict(
                f"{cve_id} is for {row.vuln_id}; only unused ids are rejected",
                code="cve_id_in_use",
            )
    container = {
        "providerMetadata": {
            "orgId": str(settings.cve_cna_org_id),
            "shortName": settings.cve_cna_short_name,
        },
        "rejectedReasons": [{"lang": "en", "value": body.reason}],
    }
    try:
        api.reject(cve_id, container)
    except CveRecordValidationError as exc:
        raise record_invalid(exc) from None
    with db.transaction() as session:
        row = _load(session, cve_id, for_update=True)
        _check_reserved(row)
        now: datetime = utcnow()
        row.state = CveIdState.rejected.value
        row.rejected_by, row.rejected_at, row.reject_reason = p.user_id, now, body.reason
        row.updated_at = now
        session.flush()
        audit.record(
            session,
            AuditTag.COORDINATION_CVE_ID_REJECT,
            actor=p.actor,
            subject_type="cve_id",
            subject_id=cve_id,
            data={"reason": body.reason},
        )
        return _out(row)
