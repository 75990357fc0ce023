"""Writing the audit chain, and signing checkpoints of it. Imports no domain: every domain
writes through `record()`.

`record()` must be called with the same session as the change it describes, so the event and
the change commit together. Appends are serialised: PostgreSQL takes a transaction-scoped
advisory lock, SQLite already holds its single write lock (`BEGIN IMMEDIATE`).

Each event's `hash = HMAC-SHA256(chain key, prev_hash || canonical JSON)`; the chain key comes
from the instance's sealed audit secret (`audit/keys.py`). Events written before the secret
existed (`legacy_events`) keep `sha256(prev_hash || canonical JSON)`. A checkpoint is a signed
note of (size, head hash): a copy kept elsewhere shows when newest events were removed.
`audit/verify.py` checks all of it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.audit import anchor, keys, note
from clearinghouse.audit.models import AuditCheckpoint, AuditEvent
from clearinghouse.audit.schemas import (
    Actor,
    CheckpointKeyOut,
)
from clearinghouse.core import crypto
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.logging import redact, request_id_var
from clearinghouse.storage.db import lock
from clearinghouse.storage.vault import Vault

GENESIS = keys.GENESIS
APPEND_LOCK = "audit:append"


def _canonical(prev_hash: str, fields: dict[str, Any]) -> bytes:
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return (prev_hash + canonical).encode()


def legacy_digest(prev_hash: str, event: AuditEvent) -> str:
    """The chain before it was keyed: plain SHA-256, without the token field."""
    fields = _fields(event)
    del fields["actor_token_id"]
    return hashlib.sha256(_canonical(prev_hash, fields)).hexdigest()


def digest(chain_key: bytes, prev_hash: str, event: AuditEvent) -> str:
    return crypto.mac_hex(chain_key, _canonical(prev_hash, _fields(event)))


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": isoformat(event.occurred_at),
        "tag": event.tag,
        "actor_user_id": event.actor_user_id,
        "actor_org_id": event.actor_org_id,
        "actor_token_id": event.actor_token_id,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "request_id": event.request_id,
    }


def _append(
    session: Session,
    material: keys.Material,
    tag: str,
    *,
    actor: Actor,
    subject_type: str,
    subject_id: str | None,
    data: dict[str, Any],
) -> AuditEvent:
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        tag=str(tag),
        actor_user_id=actor.user_id,
        actor_org_id=actor.org_id,
        actor_token_id=actor.token_id,
        subject_type=subject_type,
        subject_id=subject_id,
        data=redact(data),
        request_id=request_id_var.get(),
        prev_hash=prev,
    )
    event.hash = digest(material.chain_key, prev, event)
    session.add(event)
    session.flush()
    return event


def _material(session: Session) -> keys.Material:
    """The key material, creating the instance's key (and its event) on first use. The
    caller holds the append lock."""
    material = keys.load(session)
    if material is None:
        material = keys.create(session)
        _append(
            session,
            material,
            keys.CREATED_TAG,
            actor=Actor(),
            subject_type="audit-key",
            subject_id=material.verifier.key_id.hex(),
            data={
                "verifier_key": material.verifier.encode(),
                "legacy_events": material.legacy_events,
                "legacy_head": material.legacy_head,
            },
        )
    else:
        keys.check_anchor(session, material)
    return material


def record(
    session: Session,
    tag: AuditTag,
    *,
    actor: Actor,
    subject_type: str,
    subject_id: str | None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event tagged `domain:subject:action`. Secret-looking fields in `data` are
    redacted. When the system acts in an organisation's name (`Principal.on_behalf_of`), the
    reason is recorded as `data.on_behalf_of`."""
    if str(tag).count(":") != 2:  # only tests pass a plain string; AuditTag is always well formed
        raise ValueError(f"audit tag {tag!r} is not domain:subject:action")
    lock(session, APPEND_LOCK)
    data = dict(data or {})
    if actor.on_behalf_of is not None:
        data["on_behalf_of"] = actor.on_behalf_of
    return _append(
        session,
        _material(session),
        tag,
        actor=actor,
        subject_type=subject_type,
        subject_id=subject_id,
        data=data,
    )


# --- checkpoints ----------------------------------------------------------------------------


def write_checkpoint(session: Session, actor: Actor) -> AuditCheckpoint:
    """Sign a checkpoint of the chain. Its own event is the last one it covers."""
    lock(session, APPEND_LOCK)
    material = _material(session)
    size = (session.scalar(select(func.max(AuditEvent.seq))) or 0) + 1
    event = _append(
        session,
        material,
        AuditTag.AUDIT_CHECKPOINT_CREATE,
        actor=actor,
        subject_type="audit-checkpoint",
        subject_id=str(size),
        data={"size": size},
    )
    text = note.Checkpoint(material.name, event.seq, bytes.fromhex(event.hash)).text()
    row = AuditCheckpoint(
        size=event.seq,
        head=event.hash,
        note=note.sign(text, material.name, material.signer),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    var_dir = keys.context(session).var_dir
    anchor.log_on_commit(session, var_dir, row.id, row.size, row.head, row.note)
    return row


def checkpoint_if_due(session: Session, interval_seconds: float) -> AuditCheckpoint | None:
    """The periodic job: a checkpoint when events were added since the latest one and that one
    is at least `interval_seconds` old."""
    newest = latest(session)
    events = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if events == 0 or (newest is not None and newest.size >= events):
        return None
    if newest is not None and utcnow() - newest.created_at < timedelta(seconds=interval_seconds):
        return None
    return write_checkpoint(session, Actor())


def latest(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()


def checkpoint_key(session: Session, vault: Vault) -> CheckpointKeyOut:
    """The verifier key of this instance's checkpoints (public: it is a public key)."""
    material = keys.load(session, vault)
    if material is None:
        raise NotFound(
            "this instance has no audit key yet (it is made with the first audit event)",
            code="audit_key_missing",
        )
    return _key_out(material)


def ensure_checkpoint_key(session: Session) -> CheckpointKeyOut:
    """The verifier key, creating the audit key if there is none yet (operators)."""
    lock(session, APPEND_LOCK)
    return _key_out(_material(session))


def _key_out(material: keys.Material) -> CheckpointKeyOut:
    v = material.verifier
    return CheckpointKeyOut(name=v.name, key_id=v.key_id.hex(), verifier_key=v.encode())
