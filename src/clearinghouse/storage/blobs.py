"""Blobs: immutable, encrypted, content-checked byte strings (report files, PoCs, logs).

Blobs live in the database next to the rows that reference them, so a blob and its metadata
commit or roll back together ("nothing half-written"). They are sealed with the vault; the
sha256 of the plaintext is kept so a reader can check what it got and receipts can cite it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict
from clearinghouse.core.ids import new_id
from clearinghouse.storage.base import Base
from clearinghouse.storage.vault import SecretDestroyed, Vault


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(120))
    sealed_id: Mapped[str] = mapped_column(ForeignKey("sealed_values.id"))
    created_at: Mapped[datetime]


class BlobStore(Protocol):
    """Where blobs go. `get` of an unknown blob is a `Conflict` (`blob_missing`), of a
    destroyed one `SecretDestroyed`; `destroy` of an unknown blob does nothing."""

    def put(self, session: Session, data: bytes, *, media_type: str, purpose: str) -> Blob: ...

    def get(self, session: Session, blob_id: str) -> bytes: ...

    def destroy(self, session: Session, blob_id: str) -> None: ...


@dataclass(frozen=True)
class DatabaseBlobStore:
    vault: Vault

    def put(self, session: Session, data: bytes, *, media_type: str, purpose: str) -> Blob:
        sealed = self.vault.seal(session, data, purpose=f"blob:{purpose}")
        blob = Blob(
            id=new_id("blob"),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            media_type=media_type,
            sealed_id=sealed.id,
            created_at=utcnow(),
        )
        session.add(blob)
        session.flush()
        return blob

    def get(self, session: Session, blob_id: str) -> bytes:
        blob = session.get(Blob, blob_id)
        if blob is None:
            raise Conflict("blob is missing", code="blob_missing")
        data = self.vault.reveal(session, blob.sealed_id)
        if hashlib.sha256(data).hexdigest() != blob.sha256:
            raise Conflict("blob content does not match its recorded sha256", code="blob_corrupt")
        return data

    def destroy(self, session: Session, blob_id: str) -> None:
        blob = session.get(Blob, blob_id)
        if blob is not None:
            self.vault.destroy(session, blob.sealed_id)


@dataclass
class MemoryBlobStore:
    """The in-memory twin of `DatabaseBlobStore`, for tests: same answers and errors, but
    nothing is sealed or written to the session, so a rollback does not undo a `put`."""

    _blobs: dict[str, bytes | None] = field(default_factory=dict)  # None: destroyed

    def put(self, session: Session, data: bytes, *, media_type: str, purpose: str) -> Blob:
        blob = Blob(
            id=new_id("blob"),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            media_type=media_type,
            sealed_id="",
            created_at=utcnow(),
        )
        self._blobs[blob.id] = bytes(data)
        return blob

    def get(self, session: Session, blob_id: str) -> bytes:
        if blob_id not in self._blobs:
            raise Conflict("blob is missing", code="blob_missing")
        data = self._blobs[blob_id]
        if data is None:
            raise SecretDestroyed("this value was destroyed and can no longer be read")
        return data

    def destroy(self, session: Session, blob_id: str) -> None:
        if blob_id in self._blobs:
            self._blobs[blob_id] = None
