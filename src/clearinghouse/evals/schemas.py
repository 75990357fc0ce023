from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from clearinghouse.core.schemas import Input


class TaskInfo(BaseModel):
    name: str
    family: Literal["knowledge", "ctf", "poc", "patch"]
    version: str
    samples: int
    description: str
    skipped: int = 0


class RunCreate(Input):
    """Run the battery against a submission (its endpoint and key) or a reference model."""

    submission_id: str | None = Field(default=None, max_length=40)
    model: str | None = Field(
        default=None, max_length=300, description="Inspect model spec, e.g. openai-api/local/m"
    )
    base_url: str | None = Field(default=None, max_length=500)
    tasks: list[str] = Field(default_factory=list, max_length=50)
    limit: int | None = Field(default=None, ge=1, le=10_000)
    epochs: int = Field(default=1, ge=1, le=20)
    seed: int = Field(default=0, ge=0, le=2**31)
    message_limit: int = Field(default=30, ge=2, le=500)
    token_limit: int | None = Field(default=200_000, ge=1000, le=100_000_000)
    time_limit: int | None = Field(default=900, ge=10, le=7 * 24 * 3600)  # seconds
    max_tokens: int | None = Field(default=1024, ge=16, le=100_000)
    judge_model: str | None = Field(
        default=None,
        max_length=300,
        description="Inspect model spec of the judge for judged tasks (the `grader` role); "
        "without one, the model under test judges itself",
    )
    judge_base_url: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_model(self) -> RunCreate:
        if (self.submission_id is None) == (self.model is None):
            raise ValueError("give either submission_id or model")
        return self


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
    is_reference: bool
    tasks: list[str]
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
