"""Notifications over HTTP: webhooks (the secret shown once), their deliveries, redelivery of
dead letters, and e-mail subscriptions. Thin: the domain decides (notifications/)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.notifications import subscriptions, webhooks
from clearinghouse.notifications.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookSecret,
)

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["notifications"])

DeliveryStatusQuery = Annotated[Literal["pending", "retrying", "delivered", "dead"] | None, Query()]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(
    body: WebhookCreate, p: PrincipalDep, session: SessionDep, services: ServicesDep
) -> WebhookCreated:
    """Register a webhook for your organisation (admins). The `secret` (whsec_...) is shown
    here once; deliveries carry Standard Webhooks headers signed with it."""
    return webhooks.create_webhook(session, p, services.vault, services.settings, body)


@router.get("/webhooks", response_model=Page[WebhookOut])
def list_webhooks(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[WebhookOut]:
    return webhooks.list_webhooks(session, p, limit=limit, cursor=cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: Id, p: PrincipalDep, session: SessionDep) -> WebhookOut:
    return webhooks.get_webhook(session, p, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: Id, p: PrincipalDep, session: SessionDep, services: ServicesDep
) -> Response:
    webhooks.delete_webhook(session, p, services.vault, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookSecret)
def rotate_secret(
    webhook_id: Id, p: PrincipalDep, session: SessionDep, services: ServicesDep
) -> WebhookSecret:
    """A new signing secret, shown once; the old one stops working at once."""
    return webhooks.rotate_secret(session, p, services.vault, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    webhook_id: Id,
    p: PrincipalDep,
    session: SessionDep,
    status: DeliveryStatusQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    return webhooks.list_deliveries(
        session, p, webhook_id, status=status, limit=limit, cursor=cursor
    )


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(
    delivery_id: Id, p: PrincipalDep, session: SessionDep, services: ServicesDep
) -> DeliveryOut:
    """Queue a dead letter again, with the same webhook-id."""
    return webhooks.redeliver(session, p, services.settings, delivery_id)


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201)
def create_subscription(
    body: SubscriptionCreate, p: PrincipalDep, session: SessionDep
) -> SubscriptionOut:
    return subscriptions.create_subscription(session, p, body)


@router.get("/subscriptions", response_model=Page[SubscriptionOut])
def list_subscriptions(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[SubscriptionOut]:
    return subscriptions.list_subscriptions(session, p, limit=limit, cursor=cursor)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: Id, p: PrincipalDep, session: SessionDep) -> Response:
    subscriptions.delete_subscription(session, p, subscription_id)
    return Response(status_code=204)
