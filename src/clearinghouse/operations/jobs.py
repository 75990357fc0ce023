"""The job queue as coordinators read it (API and CLI): list and show jobs, policy-checked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.core.errors import NotFound
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage.jobs import Job


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    state: str
    attempts: int
    max_attempts: int
    run_at: datetime
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    last_error: str | None
    progress: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


def list_jobs(
    session: Session,
    p: Principal,
    *,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JobOut]:
    authorize(p, Action.job_read)
    query = select(Job)
    if state:
        query = query.where(Job.state == state)
    rows, nxt = paginate(session, query, Job.id, limit=limit, cursor=cursor)
    return Page(items=[JobOut.model_validate(j) for j in rows], next_cursor=nxt)


def get_job(session: Session, p: Principal, job_id: str) -> JobOut:
    authorize(p, Action.job_read)
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return JobOut.model_validate(job)
