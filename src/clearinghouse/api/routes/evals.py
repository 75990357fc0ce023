from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clearinghouse.api.deps import Id, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.evals import services
from clearinghouse.evals.framework import TaskOptions
from clearinghouse.evals.schemas import RunCreate, RunOut, TaskInfo

router = APIRouter(prefix="/api/v1/evals", responses=ERROR_RESPONSES, tags=["evals"])


@router.get("/tasks", response_model=list[TaskInfo])
def list_tasks(
    p: PrincipalDep, svc: ServicesDep, seed: Annotated[int, Query(ge=0, le=2**31)] = 0
) -> list[TaskInfo]:
    return services.list_tasks(p, TaskOptions(seed=seed, shared_data=svc.settings.shared_data))


@router.post("/runs", status_code=202, response_model=RunOut)
def create_run(body: RunCreate, p: PrincipalDep, session: SessionDep, svc: ServicesDep) -> RunOut:
    """Queue an eval run as a durable job; poll GET /runs/{id} for progress and scores."""
    return services.create_run(session, p, svc, body)


@router.get("/runs", response_model=list[RunOut])
def list_runs(
    p: PrincipalDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[RunOut]:
    return services.list_runs(session, p, limit=limit)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: Id, p: PrincipalDep, session: SessionDep) -> RunOut:
    return services.get_run(session, p, run_id)
