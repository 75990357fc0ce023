from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class EvalRun(Base):
    """A battery x a model: a submission under review, or a reference model for comparison."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    evaluator_org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    model_spec: Mapped[str] = mapped_column(String(300))
    base_url: Mapped[str | None] = mapped_column(String(500))
    is_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    tasks: Mapped[list[str]]
    options: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), index=True)
    job_id: Mapped[str | None] = mapped_column(String(40))
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tier: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[str | None] = mapped_column(String(40))
    created_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class EvalVulnerabilityReport(Base):
    """A vulnerability a model reported with `report_vulnerability` during a run.

    Staging table: the vulnerability knowledge base (issue 4) adopts these rows as reports with
    provenance `eval`, keeping the link to the run, the sample and the transcript excerpt.
    """

    __tablename__ = "eval_vulnerability_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    task: Mapped[str] = mapped_column(String(120))
    sample_id: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int]
    target: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    poc: Mapped[str] = mapped_column(Text)
    transcript_excerpt: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="eval")
    status: Mapped[str] = mapped_column(String(20), default="new")
    created_at: Mapped[datetime]
