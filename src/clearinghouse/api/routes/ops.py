from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from clearinghouse.api.deps import (
    Cursor,
    Id,
    Limit,
    PrincipalDep,
    ReadSessionDep,
    SafeQuery,
    ServicesDep,
    SessionDep,
)
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.audit import trail
from clearinghouse.audit.schemas import (
    AuditEventOut,
    ChainVerification,
    CheckpointKeyOut,
    CheckpointOut,
)
from clearinghouse.core.pagination import Page
from clearinghouse.operations import audit, jobs
from clearinghouse.operations.jobs import JobOut

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["operations"])


@router.get("/audit/events", response_model=list[AuditEventOut])
def audit_events(
    p: PrincipalDep,
    session: SessionDep,
    tag: SafeQuery = None,
    subject_id: SafeQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after_seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> list[AuditEventOut]:
    return audit.list_events(
        session, p, tag=tag, subject_id=subject_id, limit=limit, after_seq=after_seq
    )


@router.get("/audit/verify", response_model=ChainVerification)
def audit_verify(p: PrincipalDep, session: SessionDep) -> ChainVerification:
    return audit.verify(session, p)


@router.post("/audit/checkpoints", response_model=CheckpointOut, status_code=201)
def create_checkpoint(p: PrincipalDep, session: SessionDep) -> CheckpointOut:
    """Sign a checkpoint of the audit chain now (coordinator admins)."""
    return audit.create_checkpoint(session, p)


@router.get("/audit/checkpoints/latest", response_model=CheckpointOut)
def latest_checkpoint(p: PrincipalDep, session: SessionDep) -> CheckpointOut:
    return audit.latest_checkpoint(session, p)


@router.get("/audit/checkpoint-key", response_model=CheckpointKeyOut)
def checkpoint_key(services: ServicesDep, session: ReadSessionDep) -> CheckpointKeyOut:
    """The public key that verifies this instance's checkpoints. No token: it is public."""
    return trail.checkpoint_key(session, services.vault)


@router.get("/jobs", response_model=Page[JobOut])
def list_jobs(
    p: PrincipalDep,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[Literal["queued", "running", "succeeded", "dead"] | None, Query()] = None,
) -> Page[JobOut]:
    return jobs.list_jobs(session, p, state=state, limit=limit, cursor=cursor)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: Id, p: PrincipalDep, session: SessionDep) -> JobOut:
    return jobs.get_job(session, p, job_id)
