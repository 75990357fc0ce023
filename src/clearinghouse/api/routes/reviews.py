"""HTTP routes of the review program: agreements, submissions, findings, reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES, problem_response
from clearinghouse.core.pagination import Page
from clearinghouse.reviews import agreements, findings, reports, submissions, transitions
from clearinghouse.reviews.schemas import (
    AgreementCreate,
    AgreementOut,
    AgreementWithdraw,
    FindingCreate,
    FindingOut,
    ReportCreate,
    ReportOut,
    StateChangeOut,
    SubmissionCreate,
    SubmissionOut,
    TransitionRequest,
)
from clearinghouse.reviews.states import SubmissionState

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["reviews"])
Version = Annotated[int, Path(ge=1, le=1_000_000)]


@router.post("/agreements", status_code=201, response_model=AgreementOut)
def create_agreement(body: AgreementCreate, p: PrincipalDep, session: SessionDep) -> AgreementOut:
    return agreements.create_agreement(session, p, body)


@router.get("/agreements", response_model=Page[AgreementOut])
def list_agreements(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[AgreementOut]:
    return agreements.list_agreements(session, p, limit=limit, cursor=cursor)


@router.get("/agreements/{agreement_id}", response_model=AgreementOut)
def get_agreement(agreement_id: Id, p: PrincipalDep, session: SessionDep) -> AgreementOut:
    return agreements.get_agreement(session, p, agreement_id)


@router.post("/agreements/{agreement_id}/withdraw", response_model=AgreementOut)
def withdraw_agreement(
    agreement_id: Id,
    body: AgreementWithdraw,
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
) -> AgreementOut:
    """Withdraw from the program: blocks new submissions and destroys every model key."""
    return agreements.withdraw_agreement(session, p, svc.vault, agreement_id, body.reason)


@router.post("/submissions", status_code=201, response_model=SubmissionOut)
def create_submission(
    body: SubmissionCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> SubmissionOut:
    return submissions.create_submission(session, p, svc.vault, svc.settings, body)


@router.get("/submissions", response_model=Page[SubmissionOut])
def list_submissions(
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[SubmissionState | None, Query()] = None,
) -> Page[SubmissionOut]:
    return submissions.list_submissions(
        session, p, svc.settings, state=state, limit=limit, cursor=cursor
    )


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def get_submission(
    submission_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> SubmissionOut:
    return submissions.get_submission(session, p, submission_id, svc.settings)


@router.post(
    "/submissions/{submission_id}/verify-access",
    response_model=SubmissionOut,
    responses={502: problem_response("the model endpoint was unreachable or refused the key")},
)
def verify_access(submission_id: Id, p: PrincipalDep, svc: ServicesDep) -> SubmissionOut:
    """Call the model endpoint's `GET /v1/models` with the key; on success the window opens."""
    return transitions.verify_access(svc.db, p, svc.vault, svc.settings, submission_id)


@router.post("/submissions/{submission_id}/transition", response_model=SubmissionOut)
def transition(
    submission_id: Id,
    body: TransitionRequest,
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
) -> SubmissionOut:
    return transitions.transition(session, p, svc.vault, svc.settings, submission_id, body)


@router.get("/submissions/{submission_id}/timeline", response_model=list[StateChangeOut])
def timeline(submission_id: Id, p: PrincipalDep, session: SessionDep) -> list[StateChangeOut]:
    return submissions.timeline(session, p, submission_id)


@router.post("/submissions/{submission_id}/findings", status_code=201, response_model=FindingOut)
def add_finding(
    submission_id: Id, body: FindingCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> FindingOut:
    return findings.add_finding(session, p, svc.vault, submission_id, body)


@router.get("/submissions/{submission_id}/findings", response_model=list[FindingOut])
def list_findings(
    submission_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> list[FindingOut]:
    return findings.list_findings(session, p, svc.vault, submission_id)


@router.post("/submissions/{submission_id}/reports", status_code=201, response_model=ReportOut)
def add_report(
    submission_id: Id, body: ReportCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReportOut:
    return reports.add_report(session, p, svc.blobs, submission_id, body)


@router.get("/submissions/{submission_id}/reports", response_model=list[ReportOut])
def list_reports(submission_id: Id, p: PrincipalDep, session: SessionDep) -> list[ReportOut]:
    return reports.list_reports(session, p, submission_id)


@router.get("/submissions/{submission_id}/reports/{version}", response_model=ReportOut)
def get_report(
    submission_id: Id, version: Version, p: PrincipalDep, session: SessionDep
) -> ReportOut:
    return reports.get_report(session, p, submission_id, version)


@router.get(
    "/submissions/{submission_id}/reports/{version}/content",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def report_content(
    submission_id: Id, version: Version, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> Response:
    report, data = reports.read_report_content(session, p, svc.blobs, submission_id, version)
    return Response(
        data,
        media_type=report.media_type,
        headers={"Digest": f"sha-256={report.sha256}", "Cache-Control": "no-store"},
    )


@router.post("/submissions/{submission_id}/reports/{version}/deliver", response_model=ReportOut)
def deliver_report(
    submission_id: Id, version: Version, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReportOut:
    return reports.deliver_report(session, p, svc.settings, submission_id, version)


@router.post("/submissions/{submission_id}/reports/{version}/acknowledge", response_model=ReportOut)
def acknowledge_report(
    submission_id: Id, version: Version, p: PrincipalDep, session: SessionDep
) -> ReportOut:
    return reports.acknowledge_report(session, p, submission_id, version)
