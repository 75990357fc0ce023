"""Writing and verifying the audit chain, and signing checkpoints of it.

`record()` must be called with the same session as the change it describes, so the event and
the change commit together. Appends are serialised: PostgreSQL takes a transaction-scoped
advisory lock, SQLite already holds its single write lock (`BEGIN IMMEDIATE`).

Each event's `hash = HMAC-SHA256(chain key, prev_hash || canonical JSON)`; the chain key comes
from the instance's sealed audit secret (`audit/keys.py`). Events written before the secret
existed (`legacy_events`) keep `sha256(prev_hash || canonical JSON)`. A checkpoint is a signed
note of (size, head hash): a copy kept elsewhere shows when newest events were removed.

Outside the database, the data directory keeps the key's anchor and a log of every checkpoint
signed here (`audit/anchor.py`); `verify_chain` checks both, so that deleting the key (and
re-hashing the trail as if it had never been keyed) or the newest events and the stored
checkpoints does not verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.audit import anchor, keys, note
from clearinghouse.audit.models import AuditCheckpoint, AuditEvent
from clearinghouse.audit.schemas import (
    Actor,
    AnchorCheck,
    AuditEventOut,
    ChainVerification,
    CheckpointCheck,
    CheckpointKeyOut,
    CheckpointOut,
)
from clearinghouse.core import crypto
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.errors import ConfigurationError, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.logging import redact, request_id_var
from clearinghouse.storage.db import lock
from clearinghouse.storage.vault import Vault

if TYPE_CHECKING:
    from clearinghouse.accounts.policy import Principal

GENESIS = keys.GENESIS
APPEND_LOCK = "audit:append"


def _canonical(prev_hash: str, fields: dict[str, Any]) -> bytes:
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return (prev_hash + canonical).encode()


def _legacy_digest(prev_hash: str, event: AuditEvent) -> str:
    """The chain before it was keyed: plain SHA-256, without the token field."""
    fields = _fields(event)
    del fields["actor_token_id"]
    return hashlib.sha256(_canonical(prev_hash, fields)).hexdigest()


def _digest(chain_key: bytes, prev_hash: str, event: AuditEvent) -> str:
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
    event.hash = _digest(material.chain_key, prev, event)
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
    latest = _latest(session)
    events = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if events == 0 or (latest is not None and latest.size >= events):
        return None
    if latest is not None and utcnow() - latest.created_at < timedelta(seconds=interval_seconds):
        return None
    return write_checkpoint(session, Actor())


def _latest(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()


def create_checkpoint(session: Session, p: Principal) -> CheckpointOut:
    from clearinghouse.accounts.policy import Action, authorize

    authorize(p, Action.audit_checkpoint)
    return CheckpointOut.model_validate(write_checkpoint(session, p.actor))


def latest_checkpoint(session: Session, p: Principal) -> CheckpointOut:
    from clearinghouse.accounts.policy import Action, authorize

    authorize(p, Action.audit_read)
    row = _latest(session)
    if row is None:
        raise NotFound("no checkpoint has been written yet", code="checkpoint_not_found")
    return CheckpointOut.model_validate(row)


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


# --- verification ---------------------------------------------------------------------------


LOCAL_LOG = "local-log"  # the source of checks from this host's checkpoint log


@dataclass(frozen=True)
class _Boundary:
    """How to check each event: events up to `legacy_events` with SHA-256 (the last one must
    have `legacy_head`), later ones with `chain_key` (None: the key is gone, they cannot
    verify). `legacy_events` None: no key and no anchor, an unkeyed trail."""

    legacy_events: int | None
    legacy_head: str | None
    chain_key: bytes | None


def verify_chain(
    session: Session,
    checkpoint_files: Sequence[tuple[str, bytes | None]] = (),
    batch: int = 5000,
) -> ChainVerification:
    """Recompute the chain from the start, then compare it with the anchor, the latest stored
    checkpoint, this host's checkpoint log and `checkpoint_files` ((source, signed note or
    None if unreadable) pairs). `first_bad` is the seq of the first broken row (or, when a
    checkpoint shows events were removed, the first missing)."""
    material = keys.load(session)
    var_dir = keys.context(session).var_dir
    anchor_check, anchored = _check_anchor(var_dir, material)
    stored = _latest(session)
    local = _local_log(var_dir)
    notes: list[tuple[str, bytes | None, AuditCheckpoint | None]] = [
        *([("stored", stored.note.encode(), stored)] if stored else []),
        *((source, body, None) for source, body in local),
        *((source, body, None) for source, body in checkpoint_files),
    ]
    checks: list[CheckpointCheck] = []
    wanted: dict[int, list[tuple[int, bytes]]] = {}  # size -> [(index in checks, head)]
    for source, body, row in notes:
        check, cp = _open_checkpoint(material, source, body)
        if cp is not None and row is not None and (row.size, row.head) != (cp.size, cp.head.hex()):
            check.ok, check.reason = False, "row_mismatch"
        checks.append(check)
        if cp is not None and check.reason is None:
            wanted.setdefault(cp.size, []).append((len(checks) - 1, cp.head))

    if material is not None:
        boundary = _Boundary(material.legacy_events, material.legacy_head, material.chain_key)
    elif anchored is not None:
        boundary = _Boundary(anchored.legacy_events, anchored.legacy_head, None)
    else:
        boundary = _Boundary(None, None, None)
    events, first_bad, heads = _walk(session, boundary, set(wanted), batch)
    for size, entries in wanted.items():
        for index, head in entries:
            check = checks[index]
            if size > events and (first_bad is None or first_bad > events):
                check.reason = "events_missing"
            elif first_bad is not None and size >= first_bad:
                check.reason = "chain_broken"
            elif heads[size] != head.hex():
                check.reason = "head_mismatch"
            check.ok = check.reason is None
    if first_bad is None and any(c.reason == "events_missing" for c in checks):
        first_bad = events + 1
    legacy = events if boundary.legacy_events is None else min(events, boundary.legacy_events)
    return ChainVerification(
        ok=first_bad is None and anchor_check.ok and all(c.ok for c in checks),
        events=events,
        first_bad=first_bad,
        legacy_events=legacy,
        key_id=material.verifier.key_id.hex() if material else None,
        anchor=anchor_check,
        checkpoints=_shorten_local(checks),
    )


def _check_anchor(
    var_dir: Path, material: keys.Material | None
) -> tuple[AnchorCheck, anchor.Anchor | None]:
    """The anchor must name the database's key; with no anchor there is nothing to compare
    (a fresh instance, or one keyed before anchors: its next write makes one)."""
    check = AnchorCheck(key_id=None, ok=True)
    try:
        anchored = anchor.read(var_dir)
    except ConfigurationError:
        check.ok, check.reason = False, "anchor_invalid"
        return check, None
    if anchored is None:
        return check, None
    check.key_id = anchored.key_id
    if material is None:
        check.ok, check.reason = False, "audit_key_lost"
    elif anchored.verifier_key != material.verifier.encode():
        check.ok, check.reason = False, "audit_key_mismatch"
    return check, anchored


def _local_log(var_dir: Path) -> list[tuple[str, bytes | None]]:
    try:
        entries = anchor.log_entries(var_dir)
    except OSError:
        return [(LOCAL_LOG, None)]
    return [(f"{LOCAL_LOG}:{number}", body) for number, body in entries or []]


def _shorten_local(checks: list[CheckpointCheck]) -> list[CheckpointCheck]:
    """Of the local log's entries (one per checkpoint ever signed here), report the latest
    and the first that fails; every one of them was checked."""
    local = [c for c in checks if c.source.startswith(LOCAL_LOG)]
    if not local:
        return checks
    keep = [
        max((c for c in local if c.size is not None), key=lambda c: c.size or 0, default=local[-1])
    ]
    keep += [c for c in local if not c.ok and c is not keep[0]][:1]
    return [c for c in checks if not c.source.startswith(LOCAL_LOG) or any(c is k for k in keep)]


def _open_checkpoint(
    material: keys.Material | None, source: str, body: bytes | None
) -> tuple[CheckpointCheck, note.Checkpoint | None]:
    check = CheckpointCheck(source=source, size=None, ok=False)
    if body is None:
        check.reason = "unreadable"
        return check, None
    if material is None:
        check.reason = "no_audit_key"
        return check, None
    try:
        cp = note.Checkpoint.parse(note.open_note(body, material.verifier))
    except note.NoteError as exc:
        check.reason = exc.reason
        return check, None
    check.size = cp.size
    if cp.origin != material.name:
        check.reason = "wrong_origin"
        return check, None
    return check, cp


def _walk(
    session: Session, boundary: _Boundary, sizes: set[int], batch: int
) -> tuple[int, int | None, dict[int, str]]:
    """(events that verify, first bad seq or None, {size: head hash} for `sizes`)."""
    legacy_limit = boundary.legacy_events
    prev, count, last_id = GENESIS, 0, 0
    heads = {0: GENESIS} if 0 in sizes else {}
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            count += 1
            if legacy_limit is None or event.seq <= legacy_limit:
                good = event.actor_token_id is None and event.hash == _legacy_digest(prev, event)
                if event.seq == legacy_limit and event.hash != boundary.legacy_head:
                    good = False
            elif boundary.chain_key is None:
                good = False  # a keyed event, and the key is gone: it cannot verify
            else:
                good = event.hash == _digest(boundary.chain_key, prev, event)
            if not good or event.seq != count or event.prev_hash != prev:
                return count, event.seq, heads
            if count in sizes:
                heads[count] = event.hash
            prev, last_id = event.hash, event.id
        session.expunge_all()
    if legacy_limit is not None and count < legacy_limit:
        return count, count + 1, heads  # legacy events removed from the end
    return count, None, heads


def list_events(
    session: Session,
    p: Principal,
    *,
    tag: str | None = None,
    subject_id: str | None = None,
    limit: int = 50,
    after_seq: int | None = None,
) -> list[AuditEventOut]:
    """Coordinators read the trail, oldest first; page with `after_seq`."""
    from clearinghouse.accounts.policy import Action, authorize

    authorize(p, Action.audit_read)
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", code="limit_invalid")
    query = select(AuditEvent).order_by(AuditEvent.seq).limit(limit)
    if tag:
        query = query.where(AuditEvent.tag == tag)
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if after_seq is not None:
        query = query.where(AuditEvent.seq > after_seq)
    return [AuditEventOut.model_validate(e) for e in session.scalars(query)]


def verify(session: Session, p: Principal) -> ChainVerification:
    from clearinghouse.accounts.policy import Action, authorize

    authorize(p, Action.audit_read)
    return verify_chain(session)
