"""The evals tables: registered reference models, runs, their sealed artefacts, and the
vulnerabilities models reported during runs (staged here, filed through vulns' intake)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class ReferenceModel(Base):
    """A model a coordinator registered for reference (baseline) runs and as a judge.

    Runs may target only a submission or one of these: never a model spec or URL a caller
    typed, which would let the worker send its own provider keys wherever the caller chose.
    The key is a sealed value, revealed only inside the worker at the moment of use (audited).
    """

    __tablename__ = "reference_models"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    model_spec: Mapped[str] = mapped_column(String(300))
    base_url: Mapped[str] = mapped_column(String(500))
    api_key_sealed_id: Mapped[str | None] = mapped_column(ForeignKey("sealed_values.id"))
    api_key_hint: Mapped[str | None] = mapped_column(String(8))
    created_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class EvalRun(Base):
    """A battery x a model: a submission under review, or a reference model for comparison."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    evaluator_org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    model_spec: Mapped[str] = mapped_column(String(300))
    base_url: Mapped[str | None] = mapped_column(String(500))
    is_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    reference_model_id: Mapped[str | None] = mapped_column(ForeignKey("reference_models.id"))
    judge_reference_model_id: Mapped[str | None] = mapped_column(ForeignKey("reference_models.id"))
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


class EvalArtefact(Base):
    """A file a run produced (an Inspect log, the report's JSON), sealed in the blob store.

    The plaintext run directory is removed once these are recorded; `clearinghouse evals logs
    RUN --export DIR` decrypts them (audited), and retention destroys them with the rest of
    the submission's confidential content.
    """

    __tablename__ = "eval_artefacts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "log" | "report_json"
    name: Mapped[str] = mapped_column(String(300))  # relative path, e.g. task/file.eval
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


class EvalVulnerabilityReport(Base):
    """A vulnerability a model reported with `report_vulnerability` during a run.

    Staging table: when the run finishes, each row is filed as a report in the triage queue
    through vulns' intake (`vulns/intake/findings.py`, provenance `eval_run`); the report keeps
    this row's id (`vulnerability_reports.eval_report_id`) as the link to the run, the sample
    and the sealed transcript excerpt.
    """

    __tablename__ = "eval_vulnerability_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    task: Mapped[str] = mapped_column(String(120))
    sample_id: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int]
    target: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    # The PoC and the transcript excerpt are the words of the model under test: sealed, and
    # destroyed with the submission's other confidential content. The plaintext columns of
    # earlier revisions are left empty.
    poc: Mapped[str] = mapped_column(Text)
    transcript_excerpt: Mapped[str] = mapped_column(Text)
    poc_sealed_id: Mapped[str | None] = mapped_column(ForeignKey("sealed_values.id"))
    excerpt_sealed_id: Mapped[str | None] = mapped_column(ForeignKey("sealed_values.id"))
    source: Mapped[str] = mapped_column(String(20), default="eval")
    status: Mapped[str] = mapped_column(String(20), default="new")
    created_at: Mapped[datetime]
