"""Per-organisation digests: the pending notifications of a digest subscription, batched into
one e-mail per period. Each item carries only the variant its organisation may receive (the
fan-out chose it), so a digest can never say more than the immediate channels would."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.notifications.delivery import body_of
from clearinghouse.notifications.email import send_email
from clearinghouse.notifications.models import Delivery, DeliveryStatus, Notification, Subscription
from clearinghouse.storage.services import Services

MAX_ITEMS = 500  # per message; the rest go in the next one


def due(session: Session, period_seconds: int, now: datetime) -> list[str]:
    """Digest subscriptions whose period has passed."""
    cutoff = now - timedelta(seconds=period_seconds)
    return list(
        session.scalars(
            select(Subscription.id)
            .where(
                Subscription.active,
                Subscription.digest,
                or_(Subscription.last_digest_at.is_(None), Subscription.last_digest_at <= cutoff),
            )
            .order_by(Subscription.id)
        )
    )


def compose(session: Session, subscription_id: str) -> tuple[str, list[str], str] | None:
    """(recipient, the items' delivery ids, the message body), or None when nothing waits."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        return None
    rows = session.execute(
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(
            Delivery.subscription_id == sub.id,
            Delivery.status == DeliveryStatus.digest_pending.value,
        )
        .order_by(Delivery.id)
        .limit(MAX_ITEMS)
    ).all()
    if not rows:
        return None
    items = [json.loads(body_of(n, d.variant)) | {"webhook-id": d.id} for d, n in rows]
    body = json.dumps({"digest": items}, indent=2, sort_keys=True)
    return sub.email, [d.id for d, _ in rows], body


def send_digest(services: Services, subscription_id: str, now: datetime | None = None) -> int:
    """Send one subscription's digest; returns how many items it carried. The message id is
    derived from the items, so a digest re-sent after a crash has the same Message-ID."""
    now = now or utcnow()
    with services.db.transaction() as session:
        composed = compose(session, subscription_id)
        if composed is None:
            session.execute(
                update(Subscription)
                .where(Subscription.id == subscription_id)
                .values(last_digest_at=now)
            )
            return 0
    email, ids, body = composed
    digest_id = "dig_" + hashlib.sha256(",".join(ids).encode()).hexdigest()[:26]
    send_email(
        services.settings,
        to=email,
        subject=f"[clearinghouse] digest: {len(ids)} notifications",
        body=body,
        message_id=digest_id,
    )
    with services.db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.digest_pending.value)
            .values(status=DeliveryStatus.delivered.value, delivered_at=now, attempts=1)
        )
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(last_digest_at=now)
        )
        audit.record(
            session,
            AuditTag.NOTIFICATIONS_DIGEST_SEND,
            actor=Actor(),
            subject_type="subscription",
            subject_id=subscription_id,
            data={"digest_id": digest_id, "deliveries": ids},
        )
    return len(ids)


def send_due_digests(services: Services, now: datetime | None = None) -> int:
    """Every due digest (nothing when e-mail is disabled: the items wait). Returns items sent."""
    if not services.settings.smtp_host:
        return 0
    now = now or utcnow()
    with services.db.transaction() as session:
        ids = due(session, services.settings.notification_digest_seconds, now)
    return sum(send_digest(services, sid, now) for sid in ids)
