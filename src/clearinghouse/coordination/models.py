"""The coordination tables: cases, their vulnerabilities, participants, per-vendor statuses,
messages, artifacts, deadline adjustments and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class Case(Base):
    """A coordination case: one or more vulnerabilities, under a TLP label and an embargo."""

    __tablename__ = "coordination_cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20), index=True)
    tlp: Mapped[str] = mapped_column(String(20))
    embargo_until: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]  # the first vendor notification: the clock starts
    # Opted in to the metadata-only transparency notice (issue 14 part 4; publication.py).
    transparency_notice: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_by_org_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CaseVuln(Base):
    __tablename__ = "coordination_case_vulns"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("coordination_cases.id", ondelete="CASCADE"), primary_key=True
    )
    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id"), primary_key=True, index=True
    )


class Participant(Base):
    """An organisation's place in a case: reporter, vendor, coordinator or operator_group (one
    role per organisation and case)."""

    __tablename__ = "coordination_participants"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("coordination_cases.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime]


class VendorStatus(Base):
    """A vendor's current status in a case (its history is the timeline)."""

    __tablename__ = "coordination_vendor_statuses"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("coordination_cases.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))
    statement: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str | None] = mapped_column(String(60))
    fixed_versions: Mapped[list[str]] = mapped_column(default=list)
    fix_commits: Mapped[list[str]] = mapped_column(default=list)
    fix_scheduled_for: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    updated_by_user_id: Mapped[str | None] = mapped_column(String(40))


class Message(Base):
    """A message in a case's thread, with its own TLP label (never looser than the case's);
    the body is sealed. A RED message reaches only its author's organisation, the named
    recipients and coordinators."""

    __tablename__ = "coordination_messages"
    __table_args__ = (Index("ix_coordination_messages_case", "case_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("coordination_cases.id", ondelete="CASCADE"))
    tlp: Mapped[str] = mapped_column(String(20))
    author_org_id: Mapped[str | None] = mapped_column(String(40))
    author_user_id: Mapped[str | None] = mapped_column(String(40))
    recipient_org_ids: Mapped[list[str]] = mapped_column(default=list)
    body_sealed_id: Mapped[str] = mapped_column(ForeignKey("sealed_values.id"))
    created_at: Mapped[datetime]


class Artifact(Base):
    """A file uploaded to a case (a PoC, a patch, a log), sealed in the blob store."""

    __tablename__ = "coordination_artifacts"
    __table_args__ = (Index("ix_coordination_artifacts_case", "case_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("coordination_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # poc | patch | log | other
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(120))
    tlp: Mapped[str] = mapped_column(String(20))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    uploaded_by_org_id: Mapped[str | None] = mapped_column(String(40))
    uploaded_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class DeadlineAdjustment(Base):
    """A coordinator's extension (days > 0) or shortening (days < 0), with the reason."""

    __tablename__ = "coordination_deadline_adjustments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("coordination_cases.id", ondelete="CASCADE"), index=True
    )
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    org_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class TimelineEvent(Base):
    """One event of a case. `tlp` and `recipient_org_ids` carry the label of what it is about
    (a message's event is shown to exactly those who may read the message)."""

    __tablename__ = "coordination_timeline"
    __table_args__ = (Index("ix_coordination_timeline_case", "case_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("coordination_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    tlp: Mapped[str] = mapped_column(String(20))
    recipient_org_ids: Mapped[list[str]] = mapped_column(default=list)
    actor_org_id: Mapped[str | None] = mapped_column(String(40))
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]


class Audience(Base):
    """Who may read a TLP:RED item (message, artifact, timeline event): its author's
    organisation and its named recipients, one row each, so listings filter in SQL."""

    __tablename__ = "coordination_audiences"

    item_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
