"""Master-key rotation: re-wrap every data key under the current master key, audited.

Rotation is resumable: each batch commits with its own audit event, so a crash leaves every
data key wrapped under either the old or the new master key, both of which the keyring holds.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.config import Settings, decode_key
from clearinghouse.core.crypto import Keyring, kek_id
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault


@dataclass(frozen=True)
class Rotation:
    kek_id: str
    rewrapped: int


def new_master_key() -> str:
    """A random master key (base64 of 32 bytes), for CLEARINGHOUSE_MASTER_KEY."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def replace_development_key(settings: Settings) -> None:
    """Development only: write a new key file, keeping the old key under var/retired-keys/ so
    that the next `Settings` still opens what it sealed."""
    if settings.is_production or settings.master_key is not None:
        raise InvalidInput(
            "--generate only manages the development key file", code="rotate_generate_refused"
        )
    key_file = settings.dev_key_file
    old = key_file.read_text().strip() if key_file.exists() else None
    if old is not None:
        retired = settings.var_dir / "retired-keys"
        retired.mkdir(parents=True, exist_ok=True)
        kept = retired / f"{kek_id(decode_key(old))}.key"
        kept.write_text(old + "\n")
        kept.chmod(0o600)
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(new_master_key() + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, key_file)


def rotate(db: Database, settings: Settings) -> Rotation:
    """Re-wrap data keys in batches until none is left under a retired master key."""
    vault = Vault(Keyring(settings.master_key_bytes, tuple(settings.retired_master_key_bytes)))
    total = 0
    while True:
        with db.transaction() as session:
            n = vault.rewrap_batch(session)
            if n:
                audit.record(
                    session,
                    AuditTag.STORAGE_DATA_KEY_REWRAP,
                    actor=Actor(),
                    subject_type="keyring",
                    subject_id=vault.keyring.current_id,
                    data={"count": n},
                )
        total += n
        if n == 0:
            return Rotation(vault.keyring.current_id, total)
