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

Outside the database, the data directory keeps an anchor of the key (`audit/anchor.py`): once
an instance had a key, it never makes another one over its trail, and `audit verify` fails
while the database lacks that key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from clearinghouse.audit import anchor, note
from clearinghouse.audit.models import AuditEvent, AuditKey
from clearinghouse.core import crypto
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ConfigurationError
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.vault import SealedValue, Vault

PURPOSE = "audit:secret"
CREATED_TAG = AuditTag.AUDIT_KEY_CREATE  # the event written when the key is created
ROW = "instance"
GENESIS = "0" * 64
_INFO_KEY = "clearinghouse.audit"
_CACHE_KEY = "clearinghouse.audit.material"
_ANCHORED_KEY = "clearinghouse.audit.anchored"  # this transaction checked the anchor
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditContext:
    vault: Vault
    origin: str | None  # the configured origin, used when the key is created
    var_dir: Path  # the data directory, where the anchor and the checkpoint log live


def bind(sessions: sessionmaker[Session], vault: Vault, origin: str | None, var_dir: Path) -> None:
    """Give every session of this factory what the audit chain needs."""
    sessions.configure(info={_INFO_KEY: AuditContext(vault, origin, var_dir)})
    anchor.install(sessions)
    # A key made in a transaction that rolled back does not exist: forget it.
    event.listen(sessions, "after_rollback", _forget)
    event.listen(sessions, "after_commit", lambda s: s.info.pop(_ANCHORED_KEY, None))


def _forget(session: Session) -> None:
    for key in (_CACHE_KEY, _ANCHORED_KEY):
        session.info.pop(key, None)


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
    anchored = anchor.read(ctx.var_dir)
    if anchored is not None:
        # This instance had a key (its data directory says so) and the database lost it:
        # someone deleted it, perhaps after re-hashing the trail without it. A new key would
        # seal that trail as "legacy". Refuse, loudly.
        raise ConfigurationError(
            f"the audit anchor (audit/{anchor.ANCHOR_FILE} in the data directory) says "
            f"this instance has audit key {anchored.key_id}, and the database does not: "
            "restore the audit_keys row and its sealed value from a backup; if this database "
            "is new on purpose, move that directory aside first (docs/audit.md, Recovery)",
            code="audit_key_lost",
        )
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
    row = AuditKey(name=ROW, sealed_id=sealed.id, created_at=utcnow())
    session.add(row)
    session.flush()
    material = _derive(blob)
    session.info[_CACHE_KEY] = material
    anchor.write_on_commit(session, ctx.var_dir, anchor_of(material, row), sealed.id)
    session.info[_ANCHORED_KEY] = True
    return material


def anchor_of(material: Material, row: AuditKey) -> anchor.Anchor:
    v = material.verifier
    return anchor.Anchor(
        key_id=v.key_id.hex(),
        verifier_key=v.encode(),
        origin=v.name,
        legacy_events=material.legacy_events,
        legacy_head=material.legacy_head,
        created_at=row.created_at.isoformat(),
    )


def check_anchor(session: Session, material: Material) -> None:
    """Before writing with an existing key: the anchor must name it. An instance keyed before
    anchors existed gets its anchor now (written when this transaction commits)."""
    if session.info.get(_ANCHORED_KEY):
        return
    ctx = context(session)
    anchored = anchor.read(ctx.var_dir)
    if anchored is None:
        row = session.get(AuditKey, ROW)
        assert row is not None  # the material came from it
        log.warning("the audit key had no anchor in the data directory; writing one")
        anchor.write_on_commit(session, ctx.var_dir, anchor_of(material, row), row.sealed_id)
    elif anchored.verifier_key != material.verifier.encode():
        raise ConfigurationError(
            f"the audit anchor says this instance has audit key {anchored.key_id}, and the "
            f"database holds key {material.verifier.key_id.hex()}: the database is not this "
            "instance's, or its key was replaced (docs/audit.md)",
            code="audit_key_mismatch",
        )
    session.info[_ANCHORED_KEY] = True
