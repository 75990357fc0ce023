"""Coordination cases (issue 14): thin routes over `clearinghouse.coordination`; every
decision is the domain's and the policy's. A case the caller may not see is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.coordination import (
    artifacts,
    cases,
    messages,
    participants,
    publication,
    timeline,
)
from clearinghouse.coordination.deadlines import policy_for
from clearinghouse.coordination.schemas import (
    ArtifactCreate,
    ArtifactOut,
    CaseCreate,
    CaseOut,
    CaseSummaryOut,
    DeadlineAdjust,
    MessageCreate,
    MessageOut,
    ParticipantCreate,
    PublishNow,
    TimelineEventOut,
    TransitionCreate,
    VendorStatusCreate,
    VendorStatusOut,
)
from clearinghouse.coordination.states import CaseState
from clearinghouse.core.pagination import Page
from clearinghouse.inventory import vex_intake
from clearinghouse.inventory.schemas_exposures import CaseVexResult

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["cases"])


@router.post("/cases", status_code=201, response_model=CaseOut)
def create_case(
    body: CaseCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> CaseOut:
    """Open a case over one or more vulnerabilities (coordinators)."""
    return cases.create_case(session, p, body, policy=policy_for(svc.settings))


@router.get("/cases", response_model=Page[CaseSummaryOut])
def list_cases(
    p: PrincipalDep,
    session: SessionDep,
    state: CaseState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CaseSummaryOut]:
    """Coordinators: every case; others: the cases their organisation takes part in."""
    return cases.list_cases(session, p, state=state, limit=limit, cursor=cursor)


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep) -> CaseOut:
    """The case: in full for its reporters, vendors and coordinators; the early warning for
    the operators' sharing group; 404 for everyone else."""
    return cases.get_case(session, p, case_id, policy=policy_for(svc.settings))


@router.post("/cases/{case_id}/participants", status_code=201, response_model=CaseOut)
def add_participant(
    case_id: Id, body: ParticipantCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> CaseOut:
    return participants.add_participant(session, p, case_id, body, policy=policy_for(svc.settings))


@router.post("/cases/{case_id}/vendor-status", response_model=VendorStatusOut)
def post_vendor_status(
    case_id: Id, body: VendorStatusCreate, p: PrincipalDep, session: SessionDep
) -> VendorStatusOut:
    """A vendor posts its own status, statement, VEX justification and fix."""
    return participants.post_vendor_status(session, p, case_id, body)


@router.post("/cases/{case_id}/vex", response_model=CaseVexResult)
async def post_case_vex(
    case_id: Id,
    file: Annotated[UploadFile, File(description="a CycloneDX VEX, CSAF VEX or OpenVEX document")],
    p: PrincipalDep,
    session: SessionDep,
) -> CaseVexResult:
    """A vendor of the case asserts `not_affected` (with a justification) for the case's
    records and packages, as VEX: every operator's open exposure it covers is closed. The
    answer says what became of each statement, never which exposures or operators."""
    data = await file.read(vex_intake.MAX_BYTES + 1)
    return await run_in_threadpool(vex_intake.apply_for_case, session, p, case_id, data)


@router.post("/cases/{case_id}/transition", response_model=CaseOut)
def transition(
    case_id: Id, body: TransitionCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> CaseOut:
    return cases.transition(session, p, case_id, body, policy=policy_for(svc.settings))


@router.post("/cases/{case_id}/deadline", response_model=CaseOut)
def adjust_deadline(
    case_id: Id, body: DeadlineAdjust, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> CaseOut:
    """A coordinator extends or shortens the disclosure deadline, with a reason (audited)."""
    return cases.adjust_deadline(session, p, case_id, body, policy=policy_for(svc.settings))


@router.post("/cases/{case_id}/publish", response_model=CaseOut)
def publish_now(
    case_id: Id, body: PublishNow, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> CaseOut:
    """A coordinator publishes a notified case now, before its deadline, with a reason
    (audited, on the timeline): its records become public, as at the deadline."""
    publication.publish_now(session, p, case_id, body.reason)
    return cases.get_case(session, p, case_id, policy=policy_for(svc.settings))


@router.get("/cases/{case_id}/messages", response_model=Page[MessageOut])
def list_messages(
    case_id: Id,
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MessageOut]:
    return messages.list_messages(session, p, svc.vault, case_id, limit=limit, cursor=cursor)


@router.post("/cases/{case_id}/messages", status_code=201, response_model=MessageOut)
def post_message(
    case_id: Id, body: MessageCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> MessageOut:
    return messages.post_message(session, p, svc.vault, case_id, body)


@router.get("/cases/{case_id}/artifacts", response_model=Page[ArtifactOut])
def list_artifacts(
    case_id: Id, p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ArtifactOut]:
    return artifacts.list_artifacts(session, p, case_id, limit=limit, cursor=cursor)


@router.post("/cases/{case_id}/artifacts", status_code=201, response_model=ArtifactOut)
def upload_artifact(
    case_id: Id, body: ArtifactCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ArtifactOut:
    return artifacts.upload(
        session,
        p,
        svc.blobs,
        case_id,
        body,
        max_bytes=svc.settings.coordination_artifact_max_bytes,
    )


@router.get(
    "/cases/{case_id}/artifacts/{artifact_id}/content",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def artifact_content(
    case_id: Id, artifact_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> Response:
    """The artifact's bytes (audited), always as an attachment, never rendered."""
    artifact, data = artifacts.read_content(session, p, svc.blobs, case_id, artifact_id)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Digest": f"sha-256={artifact.sha256}",
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{artifact.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/cases/{case_id}/timeline", response_model=Page[TimelineEventOut])
def case_timeline(
    case_id: Id, p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[TimelineEventOut]:
    return timeline.list_events(session, p, case_id, limit=limit, cursor=cursor)
