"""Sealed values: secrets and confidential text encrypted at rest (envelope encryption).

A `SealedValue` row holds one ciphertext and its own wrapped data key. Plaintext exists only in
the memory of the process that seals or reveals it. Destroying a value erases both the wrapped
key and the ciphertext (crypto-shredding); the row stays so references and the audit trail do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import LargeBinary, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from clearinghouse.core import crypto
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict
from clearinghouse.core.ids import new_id
from clearinghouse.storage.base import Base


class SealedValue(Base):
    __tablename__ = "sealed_values"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(80))
    kek_id: Mapped[str | None] = mapped_column(String(16))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    hint: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


class SecretDestroyed(Conflict):
    default_code = "secret_destroyed"


@dataclass(frozen=True)
class Vault:
    """Seals and reveals values with a keyring. Stateless; pass the caller's session."""

    keyring: crypto.Keyring

    def seal(
        self, session: Session, plaintext: bytes, *, purpose: str, hint: str = ""
    ) -> SealedValue:
        sid = new_id("sv")
        dek = crypto.new_data_key()
        kid, wrapped = self.keyring.wrap(dek, context=sid)
        row = SealedValue(
            id=sid,
            purpose=purpose,
            kek_id=kid,
            wrapped_key=wrapped,
            ciphertext=crypto.seal(dek, plaintext, f"{sid}:{purpose}"),
            hint=hint,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()  # rows that reference it may be added next
        return row

    def seal_text(
        self, session: Session, text: str, *, purpose: str, show_hint: bool = False
    ) -> SealedValue:
        return self.seal(
            session, text.encode(), purpose=purpose, hint=crypto.hint(text) if show_hint else ""
        )

    def reveal(self, session: Session, sealed_id: str) -> bytes:
        row = session.get(SealedValue, sealed_id)
        if row is None or row.ciphertext is None or row.wrapped_key is None or row.kek_id is None:
            raise SecretDestroyed("this value was destroyed and can no longer be read")
        dek = self.keyring.unwrap(row.kek_id, row.wrapped_key, context=row.id)
        return crypto.open_sealed(dek, row.ciphertext, f"{row.id}:{row.purpose}")

    def reveal_text(self, session: Session, sealed_id: str) -> str:
        return self.reveal(session, sealed_id).decode()

    def destroy(self, session: Session, sealed_id: str) -> None:
        session.execute(
            update(SealedValue)
            .where(SealedValue.id == sealed_id, SealedValue.destroyed_at.is_(None))
            .values(kek_id=None, wrapped_key=None, ciphertext=None, destroyed_at=utcnow())
        )

    def rewrap_batch(self, session: Session, batch: int = 500) -> int:
        """Re-wrap up to `batch` data keys that are not under the current KEK. Returns how many.

        Call repeatedly (one transaction each) until it returns 0: rotation is resumable, and
        every row is readable at every moment because the keyring still holds the old KEK.
        """
        rows = session.scalars(
            select(SealedValue)
            .where(
                SealedValue.wrapped_key.is_not(None), SealedValue.kek_id != self.keyring.current_id
            )
            .limit(batch)
        ).all()
        for row in rows:
            assert row.kek_id is not None and row.wrapped_key is not None
            dek = self.keyring.unwrap(row.kek_id, row.wrapped_key, context=row.id)
            row.kek_id, row.wrapped_key = self.keyring.wrap(dek, context=row.id)
        return len(rows)
