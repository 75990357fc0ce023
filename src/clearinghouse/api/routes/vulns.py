"""The authenticated knowledge base: report intake, triage, search, dedup and export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.evals.runs.services import RUNS
from clearinghouse.vulns import reports, search
from clearinghouse.vulns import triage as workflow
from clearinghouse.vulns.catalog import CWE_PATTERN
from clearinghouse.vulns.dedup import candidates, merges
from clearinghouse.vulns.publication import export as publication
from clearinghouse.vulns.schemas import (
    CandidateOut,
    MergeCreate,
    MergeOut,
    ReportCreate,
    ReportOut,
    VulnOut,
    VulnPage,
    VulnTriage,
)
from clearinghouse.vulns.states import VulnStatus

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["vulns"])
VulnId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:+-]{1,120}$", description="ours or any alias")]


@router.post("/reports", status_code=201, response_model=ReportOut)
def submit_report(
    body: ReportCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReportOut:
    """Report a vulnerability (any organisation). It lands in the coordinators' triage queue,
    under embargo; the PoC is sealed at rest."""
    return reports.submit_report(session, p, svc.vault, body, runs=RUNS)


@router.get("/reports", response_model=Page[ReportOut])
def list_reports(
    p: PrincipalDep,
    session: SessionDep,
    status: VulnStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ReportOut]:
    """The triage queue: every report for coordinators, your organisation's for others."""
    return reports.list_reports(session, p, status=status, limit=limit, cursor=cursor)


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: Id, p: PrincipalDep, session: SessionDep) -> ReportOut:
    return reports.get_report(session, p, report_id)


@router.get("/vulns", response_model=VulnPage)
def list_vulns(
    p: PrincipalDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=300, description="full-text search")] = None,
    status: VulnStatus | None = None,
    ecosystem: Annotated[str | None, Query(max_length=80)] = None,
    package: Annotated[str | None, Query(max_length=300)] = None,
    cwe: Annotated[str | None, Query(pattern=f"^{CWE_PATTERN}$")] = None,
    kev: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> VulnPage:
    """Records you may see: public ones, plus (coordinators) all, (reporters) their own."""
    return search.list_vulns(
        session,
        p,
        q=q,
        status=status,
        ecosystem=ecosystem,
        package=package,
        cwe=cwe,
        kev=kev,
        limit=limit,
        cursor=cursor,
    )


@router.get("/vulns/{vuln_id}", response_model=VulnOut)
def get_vuln(vuln_id: VulnId, p: PrincipalDep, session: SessionDep) -> VulnOut:
    return search.vuln_detail(session, p, vuln_id)


@router.post("/vulns/{vuln_id}/triage", response_model=VulnOut)
def triage(vuln_id: VulnId, body: VulnTriage, p: PrincipalDep, session: SessionDep) -> VulnOut:
    """Coordinators: move the record through triage, set TLP, embargo or crash signature."""
    return workflow.triage(session, p, vuln_id, body)


@router.get("/vulns/{vuln_id}/export")
def export_vuln(
    vuln_id: VulnId,
    p: PrincipalDep,
    session: SessionDep,
    format: Literal["osv", "csaf", "csaf-vex", "cve5", "stix"] = "osv",
) -> dict[str, Any]:
    """The record as OSV, CSAF 2.0 (advisory or VEX), CVE JSON 5.1 or a STIX 2.1 bundle."""
    return publication.export_vuln(session, p, vuln_id, format)


@router.get("/duplicates", response_model=list[CandidateOut])
def list_candidates(
    p: PrincipalDep,
    session: SessionDep,
    vuln_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:+-]{1,120}$")] = None,
    state: Literal["open", "merged", "rejected"] = "open",
) -> list[CandidateOut]:
    """Duplicate candidates, best score first (coordinators)."""
    return candidates.list_candidates(session, p, vuln_id=vuln_id, state=state)


@router.post("/duplicates/{candidate_id}/reject", response_model=CandidateOut)
def reject_candidate(candidate_id: Id, p: PrincipalDep, session: SessionDep) -> CandidateOut:
    return candidates.reject_candidate(session, p, candidate_id)


@router.post("/merges", status_code=201, response_model=MergeOut)
def merge(body: MergeCreate, p: PrincipalDep, session: SessionDep) -> MergeOut:
    """Merge records into one alias set; the primary is chosen deterministically."""
    return merges.merge(session, p, body.vuln_ids, body.note)


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
def undo_merge(merge_id: Id, p: PrincipalDep, session: SessionDep) -> MergeOut:
    return merges.undo_merge(session, p, merge_id)
