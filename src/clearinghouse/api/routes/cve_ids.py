"""The clearinghouse as a CNA: CVE ids through CVE Services, and first refusal (docs/cna.md).
Coordinators only (accounts/policy.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.coordination.cna import ids
from clearinghouse.coordination.cna.schemas import (
    CVE_ID_PATTERN,
    VULN_ID_PATTERN,
    CveIdOut,
    CveIdState,
    CvePublish,
    CveReject,
    CveReserve,
    ReferralOut,
    RefusalCheck,
    RefusalDecide,
)
from clearinghouse.core.pagination import Page

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["cna"])
CveId = Annotated[str, Path(pattern=CVE_ID_PATTERN)]


@router.post("/cve-ids", status_code=201, response_model=list[CveIdOut])
def reserve(body: CveReserve, p: PrincipalDep, svc: ServicesDep) -> list[CveIdOut]:
    """Reserve CVE ids from CVE Services; with `vuln_id`, one id for that record, after the
    first-refusal step (`cna_scope_other` while another CNA owns its product)."""
    return ids.reserve(svc.db, p, svc.settings, body)


@router.get("/cve-ids", response_model=Page[CveIdOut])
def list_ids(
    p: PrincipalDep,
    session: SessionDep,
    state: CveIdState | None = None,
    vuln_id: Annotated[str | None, Query(pattern=VULN_ID_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CveIdOut]:
    """The ids we reserved, with their state and record."""
    return ids.list_ids(session, p, state=state, vuln_id=vuln_id, limit=limit, cursor=cursor)


@router.get("/cve-ids/{cve_id}", response_model=CveIdOut)
def get_id(cve_id: CveId, p: PrincipalDep, session: SessionDep) -> CveIdOut:
    return ids.get_id(session, p, cve_id)


@router.post("/cve-ids/{cve_id}/publish", response_model=CveIdOut)
def publish(cve_id: CveId, body: CvePublish, p: PrincipalDep, svc: ServicesDep) -> CveIdOut:
    """Publish the CNA container (the CVE 5 export) of the public record the id is for."""
    return ids.publish(svc.db, p, svc.settings, cve_id, body)


@router.post("/cve-ids/{cve_id}/reject", response_model=CveIdOut)
def reject(cve_id: CveId, body: CveReject, p: PrincipalDep, svc: ServicesDep) -> CveIdOut:
    """Reject an unused id, with the reason."""
    return ids.reject(svc.db, p, svc.settings, cve_id, body)


@router.post("/cna-referrals", response_model=ReferralOut)
def first_refusal(
    body: RefusalCheck, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReferralOut:
    """First refusal (CNA rules 4.2.1): which CNA owns the record's product; a referral to it
    is recorded (pending) the first time."""
    return ids.first_refusal(session, p, svc.settings, body.vuln_id)


@router.post("/cna-referrals/{referral_id}/decision", response_model=ReferralOut)
def decide_referral(
    referral_id: Id, body: RefusalDecide, p: PrincipalDep, session: SessionDep
) -> ReferralOut:
    """Record what the owning CNA said (declined, no_answer, owner_assigns), with a reason."""
    return ids.decide_referral(session, p, referral_id, body)
