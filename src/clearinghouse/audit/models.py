from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class AuditEvent(Base):
    """One audit event. Rows are never updated or deleted (database triggers refuse it).

    `hash = sha256(prev_hash || canonical JSON of the other fields)`, and `seq` has no gaps, so
    a changed, removed or re-ordered row breaks the chain at that row.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), unique=True)
    occurred_at: Mapped[datetime]
    tag: Mapped[str] = mapped_column(String(120), index=True)
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    actor_org_id: Mapped[str | None] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(80), index=True)
    data: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(80))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
