"""A case's timeline: every event, written in the same transaction as the change and as its
audit event. Listings show a caller exactly the events of what it may read (an event about a
TLP:RED message reaches only that message's readers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.coordination.access import add_audience, item_clause, load_case
from clearinghouse.coordination.models import TimelineEvent
from clearinghouse.coordination.schemas import TimelineEventOut
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate


def record(
    session: Session,
    p: Principal,
    case_id: str,
    kind: str,
    tag: AuditTag,
    data: dict[str, Any],
    *,
    tlp: str,
    recipients: list[str] | None = None,
) -> TimelineEvent:
    """Append a timeline event and its audit event (same transaction)."""
    event = TimelineEvent(
        id=new_id("cev"),
        case_id=case_id,
        kind=kind,
        tlp=tlp,
        recipient_org_ids=sorted(recipients or []),
        actor_org_id=p.org_id,
        actor_user_id=p.user_id,
        data=data,
        occurred_at=utcnow(),
    )
    session.add(event)
    add_audience(session, event.id, tlp, [p.org_id, *(recipients or [])])
    audit.record(
        session,
        tag,
        actor=p.actor,
        subject_type="case",
        subject_id=case_id,
        data={"event": kind, **data},
    )
    return event


def out(e: TimelineEvent) -> TimelineEventOut:
    return TimelineEventOut(
        id=e.id,
        kind=e.kind,
        tlp=e.tlp,
        actor_org_id=e.actor_org_id,
        data=e.data,
        occurred_at=e.occurred_at,
    )


def list_events(
    session: Session, p: Principal, case_id: str, *, limit: int, cursor: str | None
) -> Page[TimelineEventOut]:
    _, target = load_case(session, p, case_id, Action.case_read)
    query = select(TimelineEvent).where(
        TimelineEvent.case_id == case_id, item_clause(p, target, "case_event", TimelineEvent)
    )
    rows, nxt = paginate(session, query, TimelineEvent.id, limit=limit, cursor=cursor)
    return Page(items=[out(r) for r in rows], next_cursor=nxt)
