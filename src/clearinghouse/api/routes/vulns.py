"""The authenticated knowledge base: report intake, triage, search, dedup and export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.evals.runs.services import RUNS
from clearinghouse.vulns import recipes, reports, screening, search, validations
from clearinghouse.vulns import triage as workflow
from clearinghouse.vulns.catalog import CWE_PATTERN
from clearinghouse.vulns.dedup import candidates, merges
from clearinghouse.vulns.publication import export as publication
from clearinghouse.vulns.publication.cve5 import Cna
from clearinghouse.vulns.schemas import (
    CandidateOut,
    MergeCreate,
    MergeOut,
    OverrideCreate,
    OverrideOut,
    QueueItemOut,
    ReportCreate,
    ReportOut,
    SpotCheckOut,
    ValidationOut,
    VulnOut,
    VulnPage,
    VulnTriage,
)
from clearinghouse.vulns.source_trees import SourceTrees
from clearinghouse.vulns.states import VulnStatus

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["vulns"])
VulnId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:+-]{1,120}$", description="ours or any alias")]


@router.post("/reports", status_code=201, response_model=ReportOut)
def submit_report(
    body: ReportCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReportOut:
    """Report a vulnerability (any organisation). It lands in the coordinators' triage queue,
    under embargo; the PoC is sealed at rest."""
    return reports.submit_report(
        session, p, svc.vault, body, runs=RUNS, trees=SourceTrees.for_settings(svc.settings)
    )


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


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_RECIPE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the recipe directory as one archive (the body, or the multipart field "
        "`file`), or its files as repeated multipart fields `files`, each named by its path "
        "in the recipe (docs/validation.md)",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/gzip": _BINARY,
            "application/x-tar": _BINARY,
            "application/zip": _BINARY,
        },
    }
}


async def recipe_upload(request: Request, svc: ServicesDep) -> recipes.RecipeUpload:
    """The request body, read up to the cap (multipart framing allowed on top), as a recipe."""
    cap = svc.settings.recipe_max_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap + 1024 * 1024:
            raise recipes.RecipeUploadInvalid(
                f"the recipe is larger than {cap} bytes", code="recipe_too_large"
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    return await run_in_threadpool(
        recipes.from_body, request.headers.get("content-type"), body, cap
    )


@router.post(
    "/reports/{report_id}/recipe",
    status_code=202,
    response_model=ValidationOut,
    openapi_extra=_RECIPE_BODY,
)
def attach_recipe(
    report_id: Id,
    p: PrincipalDep,
    upload: Annotated[recipes.RecipeUpload, Depends(recipe_upload)],
    session: SessionDep,
    svc: ServicesDep,
) -> ValidationOut:
    """Attach a reproduction recipe (the reporting organisation, coordinators): it is sealed,
    and its validation is queued as a durable job (202 with the validation and job ids)."""
    return validations.attach_recipe(session, p, svc, report_id, upload)


@router.get("/reports/{report_id}/validations", response_model=list[ValidationOut])
def list_validations(report_id: Id, p: PrincipalDep, session: SessionDep) -> list[ValidationOut]:
    """Every validation of the report, newest first."""
    return validations.list_validations(session, p, report_id)


@router.post("/reports/{report_id}/override", status_code=201, response_model=OverrideOut)
def override_signal(
    report_id: Id, body: OverrideCreate, p: PrincipalDep, session: SessionDep
) -> OverrideOut:
    """Coordinators: override an automatic verdict, with a reason (audited; the automatic value
    is kept and shown next to it; the queue uses the override)."""
    return screening.override(session, p, report_id, body)


@router.get("/triage/queue", response_model=Page[QueueItemOut])
def triage_queue(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[QueueItemOut]:
    """Coordinators: the reports in triage ordered by evidence, each with its position and
    why."""
    return screening.queue(session, p, limit=limit, cursor=cursor)


@router.get("/triage/spot-checks", response_model=list[SpotCheckOut])
def spot_checks(
    p: PrincipalDep, session: SessionDep, svc: ServicesDep, include_checked: bool = False
) -> list[SpotCheckOut]:
    """Coordinators: the sample of likely-invalid reports for a human spot check."""
    return screening.spot_checks(
        session,
        p,
        screening.AuditSampling.for_settings(svc.settings),
        include_checked=include_checked,
    )


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
    svc: ServicesDep,
    format: Literal[
        "osv", "csaf", "csaf-2.1", "csaf-vex", "openvex", "cyclonedx-vex", "cve5", "stix"
    ] = "osv",
) -> dict[str, Any]:
    """The record as OSV, CSAF 2.0 (advisory or VEX), OpenVEX, CycloneDX VEX, CVE JSON 5.1
    (our CNA container, or our ADP container for CVE ids others assigned) or a STIX 2.1
    bundle."""
    cna = Cna.of(svc.settings)
    return publication.export_vuln(session, p, vuln_id, format, cna=cna)


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
