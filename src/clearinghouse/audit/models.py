from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class AuditEvent(Base):
    """One audit event. Rows are never updated or deleted (database triggers refuse it).

    `hash = HMAC-SHA256(chain key, prev_hash || canonical JSON of the other fields)`, and `seq`
    has no gaps, so a changed, removed or re-ordered row breaks the chain at that row, and
    nobody without the master key can compute a valid chain. Rows written before the chain was
    keyed (`legacy`) use plain SHA-256; see `audit/trail.py` and docs/audit.md.
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
    actor_token_id: Mapped[str | None] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(80), index=True)
    data: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(80))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditKey(Base):
    """The instance's audit secret: one row, pointing at a sealed value (wrapped by the master
    key, re-wrapped by `keys rotate`). The chain key and the checkpoint signing key derive
    from it. The primary key is a constant, so two processes can never create two."""

    __tablename__ = "audit_keys"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    sealed_id: Mapped[str] = mapped_column(String(40), ForeignKey("sealed_values.id"))
    created_at: Mapped[datetime]


class AuditCheckpoint(Base):
    """A signed checkpoint of the chain: its size and head, and the signed note itself (the
    note is what counts; `size` and `head` are copies for queries). Append-only."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), index=True)
    head: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
