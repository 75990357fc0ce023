"""Notification tables: webhook endpoints, e-mail subscriptions, the outbox and deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"
    digest = "digest"


class DeliveryStatus(StrEnum):
    pending = "pending"  # a delivery job is queued
    retrying = "retrying"  # failed at least once; the job retries with backoff
    delivered = "delivered"
    dead = "dead"  # dead letter: gave up after the configured attempts (redeliverable)
    digest_pending = "digest_pending"  # waits for its organisation's next digest


class WebhookEndpoint(Base):
    """An organisation's webhook: where deliveries go and which events it wants. The signing
    secret (whsec_...) is a sealed value, shown once when created or rotated."""

    __tablename__ = "notification_webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]]
    purl_prefixes: Mapped[list[str]]
    min_severity: Mapped[str | None] = mapped_column(String(16))
    secret_id: Mapped[str] = mapped_column(ForeignKey("sealed_values.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class Subscription(Base):
    """An organisation's e-mail subscription: immediate, or batched into its digest."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    events: Mapped[list[str]]
    purl_prefixes: Mapped[list[str]]
    min_severity: Mapped[str | None] = mapped_column(String(16))
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_digest_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Notification(Base):
    """The outbox: one row per event, written in the emitting change's transaction. `variants`
    holds each payload variant with its TLP label; `audience` maps an organisation id (or "*",
    everyone subscribed) to the variant it may receive."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(120), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(16))
    purls: Mapped[list[str]]
    embargo_until: Mapped[datetime | None]
    variants: Mapped[dict[str, Any]]
    audience: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    fanned_out_at: Mapped[datetime | None]


class Delivery(Base):
    """One notification to one recipient channel. Its id is the Standard Webhooks `webhook-id`
    (and the e-mail Message-ID): the same on every attempt, so receivers can dedupe."""

    __tablename__ = "notification_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    webhook_id: Mapped[str | None] = mapped_column(
        ForeignKey("notification_webhooks.id"), index=True
    )
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("notification_subscriptions.id"), index=True
    )
    variant: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    redeliveries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
