"""Writing and verifying the audit chain.

`record()` must be called with the same session as the change it describes, so the event and
the change commit together. Appends are serialised: PostgreSQL takes a transaction-scoped
advisory lock, SQLite already holds its single write lock (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.audit.models import AuditEvent
from clearinghouse.audit.schemas import Actor, AuditEventOut, ChainVerification
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.logging import redact, request_id_var
from clearinghouse.storage.db import lock

if TYPE_CHECKING:
    from clearinghouse.accounts.policy import Principal

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": isoformat(event.occurred_at),
        "tag": event.tag,
        "actor_user_id": event.actor_user_id,
        "actor_org_id": event.actor_org_id,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "request_id": event.request_id,
    }


def record(
    session: Session,
    tag: str,
    *,
    actor: Actor,
    subject_type: str,
    subject_id: str | None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event tagged `domain:subject:action`. Secret-looking fields in `data` are redacted."""
    if tag.count(":") != 2:
        raise ValueError(f"audit tag {tag!r} is not domain:subject:action")
    lock(session, "audit:append")
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        tag=tag,
        actor_user_id=actor.user_id,
        actor_org_id=actor.org_id,
        subject_type=subject_type,
        subject_id=subject_id,
        data=redact(data or {}),
        request_id=request_id_var.get(),
        prev_hash=prev,
    )
    event.hash = _digest(prev, _fields(event))
    session.add(event)
    session.flush()
    return event


def verify_chain(session: Session, batch: int = 5000) -> ChainVerification:
    """Recompute the chain from the start. `first_bad` is the seq of the first broken row."""
    prev, expected_seq, count, last_id = GENESIS, 1, 0, 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainVerification(ok=True, events=count, first_bad=None)
        for event in rows:
            count += 1
            if (
                event.seq != expected_seq
                or event.prev_hash != prev
                or event.hash != _digest(prev, _fields(event))
            ):
                return ChainVerification(ok=False, events=count, first_bad=event.seq)
            prev, expected_seq, last_id = event.hash, expected_seq + 1, event.id
        session.expunge_all()


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
