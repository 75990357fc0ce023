"""The instance's audit secret and the keys derived from it.

One random 256-bit secret per instance, created with the first event written after migration
0005 and sealed in the vault (so it is wrapped by the master key and re-wrapped by `keys
rotate` like every sealed value: rotating the master key changes nothing here). HKDF derives
from it the chain's HMAC key and the Ed25519 key that signs checkpoints. Nobody can compute a
valid chain or checkpoint without the master key, and the chain survives rotation. Keying the
chain straight off the master key would break it, and change the checkpoint key, at every
rotation.

The sealed plaintext also holds what was there before the key: how many events were chained
with plain SHA-256 (`legacy_events`) and their head hash. It is authenticated by the vault's
AEAD, so nobody without the master key can move that boundary (for example, to pass off keyed
events as legacy ones they could re-hash).

Sessions carry the vault in `session.info` (`bind()`, called by the composition root), since
`audit.record()` is called with nothing but the caller's session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clearinghouse.audit import note
from clearinghouse.audit.models import AuditEvent, AuditKey
from clearinghouse.core import crypto
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ConfigurationError
from clearinghouse.storage.vault import SealedValue, Vault

PURPOSE = "audit:secret"
CREATED_TAG = "audit:key:create"  # the event written when the key is created
ROW = "instance"
GENESIS = "0" * 64
_INFO_KEY = "clearinghouse.audit"
_CACHE_KEY = "clearinghouse.audit.material"


@dataclass(frozen=True)
class AuditContext:
    vault: Vault
    origin: str | None  # the configured origin, used when the key is created


def bind(sessions: sessionmaker[Session], vault: Vault, origin: str | None) -> None:
    """Give every session of this factory what the audit chain needs."""
    sessions.configure(info={_INFO_KEY: AuditContext(vault, origin)})


def context(session: Session) -> AuditContext:
    ctx = session.info.get(_INFO_KEY)
    if not isinstance(ctx, AuditContext):
        raise ConfigurationError(
            "this session has no vault, so the audit key is out of reach "
            "(build sessions with clearinghouse.container.build_services)",
            code="audit_key_unavailable",
        )
    return ctx


@dataclass(frozen=True)
class Material:
    chain_key: bytes
    signer: Ed25519PrivateKey
    verifier: note.Verifier
    legacy_events: int
    legacy_head: str

    @property
    def name(self) -> str:
        return self.verifier.name


def _derive(blob: dict[str, Any]) -> Material:
    secret = base64.b64decode(blob["secret"])
    signer = Ed25519PrivateKey.from_private_bytes(
        crypto.derive_key(secret, "clearinghouse/audit/checkpoint-ed25519/v1")
    )
    return Material(
        chain_key=crypto.derive_key(secret, "clearinghouse/audit/chain-hmac/v1"),
        signer=signer,
        verifier=note.Verifier.for_key(blob["origin"], note.public_bytes(signer)),
        legacy_events=int(blob["legacy_events"]),
        legacy_head=str(blob["legacy_head"]),
    )


def load(session: Session, vault: Vault | None = None) -> Material | None:
    """The key material, or None when this instance has no audit key yet. `vault`: for
    sessions without one (the read-only sessions of public routes)."""
    cached = session.info.get(_CACHE_KEY)
    if isinstance(cached, Material):
        return cached
    row = session.get(AuditKey, ROW)
    if row is None:
        return None
    sealed = session.get(SealedValue, row.sealed_id)
    if sealed is None or sealed.purpose != PURPOSE:
        raise ConfigurationError(
            "the audit key row points at a value that is not an audit secret",
            code="audit_key_invalid",
        )
    vault = vault or context(session).vault
    material = _derive(json.loads(vault.reveal(session, row.sealed_id)))
    session.info[_CACHE_KEY] = material
    return material


def create(session: Session) -> Material:
    """Create the instance's audit secret. The caller holds the audit append lock, so the
    legacy boundary sealed here is the real end of the chain."""
    ctx = context(session)
    if session.scalar(select(AuditEvent.seq).where(AuditEvent.tag == CREATED_TAG).limit(1)):
        # The trail was keyed and its key row is gone: making a new key would seal every
        # event so far as "legacy" (SHA-256 only), which is what someone who re-hashed the
        # trail would want. Refuse, loudly.
        raise ConfigurationError(
            "the audit trail was keyed but its audit key is missing; restore the audit_keys "
            "row and its sealed value from a backup (docs/audit.md)",
            code="audit_key_lost",
        )
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    secret = secrets.token_bytes(32)
    probe = _derive(
        {
            "secret": base64.b64encode(secret).decode(),
            "origin": "x",
            "legacy_events": 0,
            "legacy_head": GENESIS,
        }
    )
    fingerprint = hashlib.sha256(probe.verifier.public_key).hexdigest()[:16]
    blob = {
        "v": 1,
        "secret": base64.b64encode(secret).decode(),
        "origin": ctx.origin or f"clearinghouse/audit/{fingerprint}",
        "legacy_events": last[0] if last else 0,
        "legacy_head": last[1] if last else GENESIS,
    }
    sealed = ctx.vault.seal(session, json.dumps(blob).encode(), purpose=PURPOSE)
    session.add(AuditKey(name=ROW, sealed_id=sealed.id, created_at=utcnow()))
    session.flush()
    material = _derive(blob)
    session.info[_CACHE_KEY] = material
    return material
