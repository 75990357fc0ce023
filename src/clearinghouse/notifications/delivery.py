"""Delivering one delivery: a signed Standard Webhooks POST or an e-mail, its outcome recorded
and audited. Signing uses the `standardwebhooks` library; the `webhook-id` is the delivery id,
the same on every attempt (the receiver's idempotency key)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.events import AuditTag
from clearinghouse.core.logging import redact_text
from clearinghouse.core.net import OutboundPolicy, guarded_client
from clearinghouse.notifications.email import send_email
from clearinghouse.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Subscription,
    WebhookEndpoint,
)
from clearinghouse.storage.vault import Vault


class DeliveryFailed(Exception):
    """The receiver refused or could not be reached (the job retries with backoff)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Prepared:
    delivery_id: str
    channel: str
    body: str
    title: str
    url: str = ""
    secret: str = ""
    email: str = ""


def body_of(n: Notification, variant: str) -> str:
    """The delivered JSON (Standard Webhooks' type/timestamp/data shape): only the variant the
    recipient may receive. Deterministic, so every attempt sends the same bytes."""
    v = n.variants[variant]
    document = {
        "type": n.kind,
        "timestamp": n.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"subject": n.subject, "tlp": v["tlp"], "content": v["payload"]},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def prepare(session: Session, vault: Vault, delivery_id: str) -> Prepared | None:
    """Count the attempt (before sending, so an attempt cut short still counts) and gather what
    to send. None when there is nothing to send: delivered already, or its endpoint is gone."""
    d = session.get(Delivery, delivery_id, with_for_update=True)
    if d is None or d.status in {DeliveryStatus.delivered, DeliveryStatus.dead}:
        return None
    n = session.get(Notification, d.notification_id)
    assert n is not None
    d.attempts += 1
    body, title = body_of(n, d.variant), f"[clearinghouse] {n.kind}: {n.subject}"
    if d.channel == Channel.webhook:
        hook = session.get(WebhookEndpoint, d.webhook_id)
        if hook is None or not hook.active:
            _finish(session, d, DeliveryStatus.dead, error="the webhook was deleted")
            return None
        secret = vault.reveal_text(session, hook.secret_id)
        return Prepared(d.id, d.channel, body, title, url=hook.url, secret=secret)
    sub = session.get(Subscription, d.subscription_id)
    if sub is None or not sub.active:
        _finish(session, d, DeliveryStatus.dead, error="the subscription was deleted")
        return None
    return Prepared(d.id, d.channel, body, title, email=sub.email)


def signed_headers(
    secret: str, msg_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
    }


@functools.lru_cache(maxsize=8)
def _client(policy: OutboundPolicy) -> httpx.Client:
    """One pooled client per policy for the worker's life (building one, with its TLS context,
    costs more than a local delivery; the policy is still checked on every connection)."""
    return guarded_client(policy)


def send(p: Prepared, settings: Settings) -> int | None:
    """Send it; the HTTP status (webhooks) or None (e-mail). Raises DeliveryFailed."""
    if p.channel == Channel.email:
        try:
            send_email(settings, to=p.email, subject=p.title, body=p.body, message_id=p.delivery_id)
        except Exception as exc:  # smtplib and socket errors alike: retried
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
        return None
    try:
        r = _client(OutboundPolicy.from_settings(settings)).post(
            p.url,
            content=p.body.encode(),
            headers=signed_headers(p.secret, p.delivery_id, p.body),
        )
    except Exception as exc:  # refused address, connect error, timeout: retried
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= r.status_code < 300:
        raise DeliveryFailed(f"the receiver answered HTTP {r.status_code}", r.status_code)
    return r.status_code


def _finish(
    session: Session,
    d: Delivery,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    status_code: int | None = None,
) -> None:
    d.status = status.value
    d.last_status_code = status_code
    if error is not None:
        d.last_error = redact_text(error)[-2000:]
    if status is DeliveryStatus.delivered:
        d.delivered_at = utcnow()
    if status in {DeliveryStatus.delivered, DeliveryStatus.dead}:
        tag = (
            AuditTag.NOTIFICATIONS_DELIVERY_DELIVERED
            if status is DeliveryStatus.delivered
            else AuditTag.NOTIFICATIONS_DELIVERY_DEAD
        )
        data: dict[str, Any] = {
            "notification_id": d.notification_id,
            "org_id": d.org_id,
            "channel": d.channel,
            "variant": d.variant,
            "attempts": d.attempts,
        }
        audit.record(
            session, tag, actor=Actor(), subject_type="delivery", subject_id=d.id, data=data
        )


def record(
    session: Session,
    delivery_id: str,
    *,
    error: DeliveryFailed | None,
    status_code: int | None = None,
    final: bool = False,
) -> None:
    """The outcome of one attempt: delivered, retrying, or dead (the last attempt failed)."""
    d = session.get(Delivery, delivery_id, with_for_update=True)
    if d is None or d.status == DeliveryStatus.delivered:
        return
    if error is None:
        _finish(session, d, DeliveryStatus.delivered, status_code=status_code)
    else:
        status = DeliveryStatus.dead if final else DeliveryStatus.retrying
        _finish(session, d, status, error=str(error), status_code=error.status_code)
