"""Request and response shapes of the evals domain: tasks, runs and their scores, artefacts,
reference models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, StringConstraints, model_validator

from clearinghouse.core.schemas import Input
from clearinghouse.evals.battery.framework import SEED_BOUND


class TaskInfo(BaseModel):
    name: str
    family: Literal["knowledge", "ctf", "poc", "patch"]
    version: str
    samples: int
    description: str
    skipped: int = 0


REFUSED = "refused: a run names a registered reference model (`reference_model`), never a raw model"


class ReferenceModelCreate(Input):
    """A model for reference runs and judging, reached through an OpenAI-compatible endpoint.

    `model` must be an `openai-api/<service>/<model>` Inspect spec; `api_key` is write-only:
    sealed in the vault, never returned (only a hint of its last characters)."""

    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    model: str = Field(
        min_length=1,
        max_length=300,
        pattern=r"^openai-api/[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9._:/@+-]*$",
        description="Inspect model spec, openai-api/<service>/<model>",
    )
    base_url: str = Field(min_length=1, max_length=500)
    api_key: SecretStr | None = Field(default=None, min_length=1, max_length=4096)


class ReferenceModelOut(BaseModel):
    id: str
    name: str
    model: str
    base_url: str
    api_key_hint: str | None = Field(description="at most the last 4 characters of the key")
    api_key_set: bool
    created_at: datetime


class RunCreate(Input):
    """Run the battery against a submission (its endpoint and key) or a registered reference
    model. Raw `model`, `base_url`, `judge_model` and `judge_base_url` are refused (422,
    `raw_model_refused`): the worker would otherwise send its provider keys where they point."""

    submission_id: str | None = Field(default=None, max_length=40)
    reference_model: str | None = Field(
        default=None, min_length=1, max_length=120, description="a reference model's name or id"
    )
    model: str | None = Field(default=None, max_length=300, description=REFUSED)
    base_url: str | None = Field(default=None, max_length=500, description=REFUSED)
    tasks: list[str] = Field(default_factory=list, max_length=50)
    limit: int | None = Field(default=None, ge=1, le=10_000)
    task_limits: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)],
        Annotated[int, Field(ge=1, le=10_000)],
    ] = Field(
        default_factory=dict,
        max_length=50,
        description="samples per task for the tasks named (each one of `tasks`), instead of "
        "`limit`",
    )
    epochs: int = Field(default=1, ge=1, le=20)
    seed: int | None = Field(
        default=None,
        ge=0,
        lt=SEED_BOUND,
        description="seed of generated challenges and answer order; default: a fresh random "
        "seed, recorded with the run so that it can be replayed",
    )
    max_submissions: int = Field(default=3, ge=1, le=20, description="flag submissions per sample")
    message_limit: int = Field(default=30, ge=2, le=500)
    token_limit: int | None = Field(default=200_000, ge=1000, le=100_000_000)
    time_limit: int | None = Field(default=900, ge=10, le=7 * 24 * 3600)  # seconds
    max_tokens: int | None = Field(default=1024, ge=16, le=100_000)
    judge_reference_model: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="the judge of judged tasks (the `grader` role): a reference model's name or "
        "id; without one, the model under test judges itself",
    )
    judge_model: str | None = Field(default=None, max_length=300, description=REFUSED)
    judge_base_url: str | None = Field(default=None, max_length=500, description=REFUSED)

    @model_validator(mode="after")
    def _one_model(self) -> RunCreate:
        if self.raw_fields():
            return self  # refused by the service with its own code, for every caller
        if (self.submission_id is None) == (self.reference_model is None):
            raise ValueError("give either submission_id or reference_model")
        return self

    def raw_fields(self) -> list[str]:
        return [
            name
            for name in ("model", "base_url", "judge_model", "judge_base_url")
            if getattr(self, name) is not None
        ]


class Score(BaseModel):
    task: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    epochs: int


class RunOut(BaseModel):
    id: str
    submission_id: str | None
    model: str
    reference_model_id: str | None = None
    judge_reference_model_id: str | None = None
    is_reference: bool
    tasks: list[str]
    # What the run was asked for (seed, limits, epochs...): everything a replay repeats.
    options: dict[str, Any] = {}
    replay_of: str | None = None  # the run this one replays
    state: Literal["queued", "running", "succeeded", "failed"]
    progress: dict[str, Any]
    config: dict[str, Any]
    scores: list[Score]
    tier: dict[str, Any]
    usage: dict[str, Any]
    errors: int
    refusals: int
    vulnerability_reports: int
    samples: list[dict[str, Any]] = []  # per sample and epoch: score, error, refused, tokens
    report_id: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ArtefactOut(BaseModel):
    id: str
    kind: str
    name: str
    size: int
    sha256: str
    created_at: datetime
    destroyed: bool
