"""The review program's tables: agreements, submissions and their state changes, findings,
report versions and their delivery receipts. Secrets and contents are ids into the vault."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lab_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    confidentiality_terms: Mapped[str] = mapped_column(Text)
    retention_days: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), index=True)
    lab_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    evaluator_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    planned_release_at: Mapped[datetime]
    endpoint_url: Mapped[str | None] = mapped_column(String(500))
    api_key_sealed_id: Mapped[str | None] = mapped_column(ForeignKey("sealed_values.id"))
    api_key_hint: Mapped[str | None] = mapped_column(String(8))
    weights_digest: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20), index=True)
    window_opened_at: Mapped[datetime | None]
    deadline: Mapped[datetime | None] = mapped_column(index=True)
    window_shortened: Mapped[bool] = mapped_column(Boolean, default=False)
    access_verified_at: Mapped[datetime | None]
    access_models: Mapped[list[str]] = mapped_column(default=list)
    ended_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StateChange(Base):
    """The submission's timeline: every transition, who made it and why."""

    __tablename__ = "submission_state_changes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(60))
    body_sealed_id: Mapped[str] = mapped_column(ForeignKey("sealed_values.id"))
    created_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class ReportVersion(Base):
    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("submission_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    media_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class DeliveryReceipt(Base):
    """Proof that a report version reached the lab: what (sha256), when, by whom, and the
    lab's acknowledgement."""

    __tablename__ = "delivery_receipts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("report_versions.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[datetime]
    delivered_by_user_id: Mapped[str | None] = mapped_column(String(40))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_user_id: Mapped[str | None] = mapped_column(String(40))
