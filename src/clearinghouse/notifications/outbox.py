"""The transactional outbox: `emit()`, the seam every domain calls inside its own transaction.

The notification row (and the job that fans it out) is written in the caller's session, so it
commits with the change that caused it or not at all. Content is the emitter's to decide, per
audience: it passes named payload `variants`, each with its TLP label, and an `audience` that
maps organisation ids (or `EVERYONE`) to the variant each may receive. The seam refuses what
would overshare: a variant for everyone must be TLP:CLEAR or TLP:GREEN (every subscriber is a
registered organisation of this community) and the event must not be under embargo. An
organisation named in no entry, and not covered by `EVERYONE`, receives nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.schemas import check_storable
from clearinghouse.core.tlp import Tlp
from clearinghouse.notifications.errors import Overshare
from clearinghouse.notifications.filters import Severity, valid_kind
from clearinghouse.notifications.models import Notification
from clearinghouse.storage import jobs

EVERYONE = "*"
FANOUT_JOB = "notifications.fanout"


BROADCASTABLE = {Tlp.clear, Tlp.green}


@dataclass(frozen=True)
class Variant:
    """One version of an event's content and the TLP label it carries."""

    payload: Mapping[str, Any]
    tlp: Tlp = Tlp.clear


@dataclass(frozen=True)
class Meta:
    """What subscriptions filter on, and the embargo that bounds who may be told."""

    severity: str | None = None
    purls: Sequence[str] = ()
    embargo_until: datetime | None = None
    actor: Actor = field(default_factory=Actor)


def overshare(variant: Mapping[str, Any], embargo_until: datetime | None, now: datetime) -> str:
    """Why a stored variant may not go to everyone ("" when it may)."""
    if Tlp(variant["tlp"]) not in BROADCASTABLE:
        return f"a TLP:{variant['tlp']} variant may go only to organisations named in audience"
    if embargo_until is not None and embargo_until > now:
        return "under embargo, content may go only to organisations named in audience"
    return ""


def emit(
    session: Session,
    kind: str,
    subject: str,
    payload: Mapping[str, Variant],
    audience: Mapping[str, str],
    meta: Meta | None = None,
) -> Notification:
    """Write a notification in the caller's transaction (rolled back with it) and queue its
    fan-out. Raises `Overshare` (the caller's change rolls back) rather than leak, and
    ValueError for a malformed call (a bug in the emitter)."""
    meta = meta or Meta()
    now = utcnow()
    if not valid_kind(kind):
        raise ValueError(f"event kind {kind!r} does not match the event kind pattern")
    if not 1 <= len(subject) <= 200:
        raise ValueError("the subject must be 1 to 200 characters")
    if meta.severity is not None:
        Severity(meta.severity)
    for org, name in audience.items():
        if name not in payload:
            raise ValueError(f"audience entry {org!r} names no variant {name!r}")
    variants = {
        name: {"tlp": v.tlp.value, "payload": dict(v.payload)} for name, v in payload.items()
    }
    check_storable(variants)
    if EVERYONE in audience:
        reason = overshare(variants[audience[EVERYONE]], meta.embargo_until, now)
        if reason:
            raise Overshare(f"refused to notify everyone: {reason}")
    row = Notification(
        id=new_id("ntf"),
        kind=kind,
        subject=subject,
        severity=meta.severity,
        purls=list(meta.purls),
        embargo_until=meta.embargo_until,
        variants=variants,
        audience=dict(audience),
        created_at=now,
        fanned_out_at=None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_NOTIFICATION_EMIT,
        actor=meta.actor,
        subject_type="notification",
        subject_id=row.id,
        data={
            "kind": kind,
            "subject": subject,
            "audience": dict(audience),
            "tlp": {name: v["tlp"] for name, v in variants.items()},
        },
    )
    jobs.enqueue(
        session, FANOUT_JOB, {"notification_id": row.id}, idempotency_key=f"{FANOUT_JOB}:{row.id}"
    )
    return row
