from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.evals import reference
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import (
    ReferenceModelCreate,
    ReferenceModelOut,
    RunCreate,
    RunOut,
    TaskInfo,
)

router = APIRouter(prefix="/api/v1/evals", responses=ERROR_RESPONSES, tags=["evals"])
reference_router = APIRouter(
    prefix="/api/v1/reference-models", responses=ERROR_RESPONSES, tags=["evals"]
)


@router.get("/tasks", response_model=list[TaskInfo])
def list_tasks(
    p: PrincipalDep, svc: ServicesDep, seed: Annotated[int, Query(ge=0, le=2**31)] = 0
) -> list[TaskInfo]:
    return runs.list_tasks(p, TaskOptions(seed=seed, shared_data=svc.settings.shared_data))


@router.post("/runs", status_code=202, response_model=RunOut)
def create_run(body: RunCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep) -> RunOut:
    """Queue an eval run as a durable job; poll GET /runs/{id} for progress and scores.

    A run targets a submission or a registered reference model; a raw `model`, `base_url`,
    `judge_model` or `judge_base_url` is refused (422 `raw_model_refused`)."""
    return runs.create_run(session, p, svc, body)


@router.post("/runs/{run_id}/replay", status_code=202, response_model=RunOut)
def replay_run(run_id: Id, p: PrincipalDep, session: SessionDep, svc: ServicesDep) -> RunOut:
    """Queue a new run from a run's recorded config (target, judge, tasks, seed, limits): the
    same samples in the same order. The new run names the original in `replay_of`."""
    return runs.replay_run(session, p, svc, run_id)


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[RunOut]:
    return runs.list_runs(session, p, limit=limit, cursor=cursor)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: Id, p: PrincipalDep, session: SessionDep) -> RunOut:
    return runs.get_run(session, p, run_id)


@reference_router.post("", status_code=201, response_model=ReferenceModelOut)
def create_reference_model(
    body: ReferenceModelCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep
) -> ReferenceModelOut:
    """Register a reference model (coordinator admins). The key is write-only: sealed, never
    returned; only a hint of its last characters is shown."""
    return reference.create_reference_model(
        session, p, svc.vault, body, allow_private=svc.settings.private_endpoints_allowed
    )


@reference_router.get("", response_model=Page[ReferenceModelOut])
def list_reference_models(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ReferenceModelOut]:
    return reference.list_reference_models(session, p, limit=limit, cursor=cursor)


@reference_router.get("/{reference_model_id}", response_model=ReferenceModelOut)
def get_reference_model(
    reference_model_id: Id, p: PrincipalDep, session: SessionDep
) -> ReferenceModelOut:
    return reference.get_reference_model(session, p, reference_model_id)
