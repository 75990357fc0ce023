"""Fan-out: one notification → one delivery per matching webhook and e-mail subscription,
each with the variant its organisation may receive (or none at all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.notifications.filters import matches
from clearinghouse.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Subscription,
    WebhookEndpoint,
)
from clearinghouse.notifications.outbox import EVERYONE, overshare
from clearinghouse.storage.jobs import Job, JobState

DELIVER_JOB = "notifications.deliver"


def variant_for(n: Notification, org_id: str) -> str | None:
    """The variant `org_id` may receive: its own entry, else everyone's, and that only if it
    may go to everyone (checked again here: a row is never trusted to be as emit() wrote it)."""
    named = n.audience.get(org_id)
    if named is not None:
        return str(named)
    shared = n.audience.get(EVERYONE)
    if shared is None or overshare(n.variants[shared], n.embargo_until, utcnow()):
        return None
    return str(shared)


def delivery_job_rows(
    delivery_ids: list[str], max_attempts: int, key_suffix: str
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": new_id("job"),
            "kind": DELIVER_JOB,
            "payload": {"delivery_id": d},
            "idempotency_key": f"{DELIVER_JOB}:{d}:{key_suffix}",
            "state": JobState.queued.value,
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_at": now,
            "created_at": now,
        }
        for d in delivery_ids
    ]


def fan_out(session: Session, notification_id: str, max_attempts: int) -> dict[str, int]:
    """Create the deliveries of one notification and queue their jobs (once: a notification
    already fanned out is left alone). Returns how many per channel."""
    n = session.get(Notification, notification_id, with_for_update=True)
    if n is None or n.fanned_out_at is not None:
        return {}
    now = utcnow()
    rows: list[dict[str, Any]] = []
    immediate: list[str] = []

    def add(org_id: str, channel: Channel, **target: str) -> None:
        name = variant_for(n, org_id)
        if name is None:
            return
        did = new_id("msg")
        status = (
            DeliveryStatus.digest_pending if channel is Channel.digest else DeliveryStatus.pending
        )
        rows.append(
            {
                "id": did,
                "notification_id": n.id,
                "org_id": org_id,
                "channel": channel.value,
                "webhook_id": target.get("webhook_id"),
                "subscription_id": target.get("subscription_id"),
                "variant": name,
                "status": status.value,
                "attempts": 0,
                "redeliveries": 0,
                "created_at": now,
            }
        )
        if channel is not Channel.digest:
            immediate.append(did)

    def wanted(f: WebhookEndpoint | Subscription) -> bool:
        return matches(
            events=f.events,
            purl_prefixes=f.purl_prefixes,
            min_severity=f.min_severity,
            kind=n.kind,
            purls=n.purls,
            severity=n.severity,
        )

    for hook in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active)):
        if wanted(hook):
            add(hook.org_id, Channel.webhook, webhook_id=hook.id)
    for sub in session.scalars(select(Subscription).where(Subscription.active)):
        if wanted(sub):
            add(sub.org_id, Channel.digest if sub.digest else Channel.email, subscription_id=sub.id)
    if rows:
        session.execute(insert(Delivery), rows)
    if immediate:
        session.execute(insert(Job), delivery_job_rows(immediate, max_attempts, "0"))
    n.fanned_out_at = now
    counts = {c.value: sum(1 for r in rows if r["channel"] == c.value) for c in Channel}
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_NOTIFICATION_FAN_OUT,
        actor=Actor(),
        subject_type="notification",
        subject_id=n.id,
        data={"deliveries": counts, "organisations": len({r["org_id"] for r in rows})},
    )
    return counts
