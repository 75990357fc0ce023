"""An organisation's webhooks: create (the secret shown once), list, show, delete, rotate the
secret; their deliveries, and redelivering a dead letter. Policy-checked, audited."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import insert
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy, check_url
from clearinghouse.core.pagination import Page
from clearinghouse.notifications.errors import NotDead
from clearinghouse.notifications.fanout import delivery_job_rows
from clearinghouse.notifications.models import Delivery, DeliveryStatus, WebhookEndpoint
from clearinghouse.notifications.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookSecret,
)
from clearinghouse.storage.jobs import Job
from clearinghouse.storage.vault import Vault

SECRET_PURPOSE = "notifications.webhook-secret"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _own_org(p: Principal) -> str:
    if p.org_id is None:
        raise InvalidInput(
            "webhooks belong to an organisation: act with a token", code="org_required"
        )
    return p.org_id


def _target(hook: WebhookEndpoint) -> Target:
    return Target("webhook", id=hook.id, org_id=hook.org_id)


def _load(session: Session, p: Principal, webhook_id: str, action: Action) -> WebhookEndpoint:
    hook = session.get(WebhookEndpoint, webhook_id)
    if hook is None or not hook.active:
        raise NotFound(f"no webhook with id {webhook_id!r}")
    authorize(p, action, _target(hook))
    return hook


def create_webhook(
    session: Session, p: Principal, vault: Vault, settings: Settings, body: WebhookCreate
) -> WebhookCreated:
    org_id = _own_org(p)
    authorize(p, Action.webhook_manage, Target("webhook", org_id=org_id))
    url = str(check_url(body.url, OutboundPolicy.from_settings(settings), name="url"))
    secret = new_secret()
    hook = WebhookEndpoint(
        id=new_id("whk"),
        org_id=org_id,
        url=url,
        events=list(body.events),
        purl_prefixes=list(body.purl_prefixes),
        min_severity=body.min_severity.value if body.min_severity else None,
        secret_id="",
        active=True,
        created_by=p.user_id,
        created_at=utcnow(),
        rotated_at=None,
    )
    hook.secret_id = vault.seal_text(session, secret, purpose=SECRET_PURPOSE).id
    session.add(hook)
    session.flush()
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_WEBHOOK_CREATE,
        actor=p.actor,
        subject_type="webhook",
        subject_id=hook.id,
        data={"url": url, "events": hook.events},
    )
    return WebhookCreated(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


def list_webhooks(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[WebhookOut]:
    return scoped_page(
        session,
        p,
        "webhook",
        WebhookEndpoint,
        WebhookOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=[WebhookEndpoint.active.is_(True)],
    )


def get_webhook(session: Session, p: Principal, webhook_id: str) -> WebhookOut:
    return WebhookOut.model_validate(_load(session, p, webhook_id, Action.webhook_read))


def delete_webhook(session: Session, p: Principal, vault: Vault, webhook_id: str) -> None:
    """Deactivate it and destroy its secret; its queued deliveries become dead letters."""
    hook = _load(session, p, webhook_id, Action.webhook_manage)
    hook.active = False
    vault.destroy(session, hook.secret_id)
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_WEBHOOK_DELETE,
        actor=p.actor,
        subject_type="webhook",
        subject_id=hook.id,
    )


def rotate_secret(session: Session, p: Principal, vault: Vault, webhook_id: str) -> WebhookSecret:
    """A new secret, shown once; the old one is destroyed (deliveries from now on use the new
    one, retries included)."""
    hook = _load(session, p, webhook_id, Action.webhook_manage)
    secret = new_secret()
    old = hook.secret_id
    hook.secret_id = vault.seal_text(session, secret, purpose=SECRET_PURPOSE).id
    hook.rotated_at = utcnow()
    vault.destroy(session, old)
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_WEBHOOK_ROTATE,
        actor=p.actor,
        subject_type="webhook",
        subject_id=hook.id,
    )
    return WebhookSecret(id=hook.id, secret=secret)


def list_deliveries(
    session: Session,
    p: Principal,
    webhook_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DeliveryOut]:
    hook = _load(session, p, webhook_id, Action.webhook_read)
    where = [Delivery.webhook_id == hook.id]
    if status is not None:
        where.append(Delivery.status == status)
    return scoped_page(
        session,
        p,
        "delivery",
        Delivery,
        DeliveryOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=where,
    )


def redeliver(session: Session, p: Principal, settings: Settings, delivery_id: str) -> DeliveryOut:
    """Queue a dead letter again, with the same webhook-id (the receiver's idempotency key)."""
    d = session.get(Delivery, delivery_id, with_for_update=True)
    if d is None or d.status == DeliveryStatus.digest_pending:
        raise NotFound(f"no delivery with id {delivery_id!r}")
    action = Action.webhook_manage if d.webhook_id else Action.subscription_manage
    authorize(p, action, Target("delivery", id=d.id, org_id=d.org_id))
    if d.status != DeliveryStatus.dead:
        raise NotDead(f"delivery {d.id} is {d.status}; only a dead letter is redelivered")
    if d.webhook_id is not None:
        hook = session.get(WebhookEndpoint, d.webhook_id)
        if hook is None or not hook.active:
            raise NotDead("its webhook was deleted", code="webhook_deleted")
    d.redeliveries += 1
    d.status = DeliveryStatus.pending.value
    session.execute(
        insert(Job),
        delivery_job_rows([d.id], settings.notification_max_attempts, str(d.redeliveries)),
    )
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_DELIVERY_REDELIVER,
        actor=p.actor,
        subject_type="delivery",
        subject_id=d.id,
        data={"redeliveries": d.redeliveries},
    )
    return DeliveryOut.model_validate(d)
