"""Notification I/O schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clearinghouse.core.schemas import Input
from clearinghouse.notifications.filters import EVENT_PATTERN, Severity

EventPattern = Annotated[str, StringConstraints(pattern=EVENT_PATTERN, max_length=170)]
PurlPrefix = Annotated[str, StringConstraints(pattern=r"^pkg:[!-~]{1,196}$")]
# One address, no display name; no whitespace, so no header can be smuggled into the e-mail.
EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
]


class Filters(Input):
    events: list[EventPattern] = Field(min_length=1, max_length=50)
    purl_prefixes: list[PurlPrefix] = Field(default_factory=list, max_length=50)
    min_severity: Severity | None = None


class WebhookCreate(Filters):
    url: str = Field(min_length=1, max_length=2000)


class SubscriptionCreate(Filters):
    email: EmailAddress
    digest: bool = False


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    url: str
    events: list[str]
    purl_prefixes: list[str]
    min_severity: str | None
    active: bool
    created_at: datetime
    rotated_at: datetime | None


class WebhookSecret(BaseModel):
    """The endpoint's signing secret, shown once (on creation and on rotation)."""

    id: str
    secret: str


class WebhookCreated(WebhookOut):
    secret: str


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    email: str
    events: list[str]
    purl_prefixes: list[str]
    min_severity: str | None
    digest: bool
    active: bool
    last_digest_at: datetime | None
    created_at: datetime


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    notification_id: str
    channel: str
    webhook_id: str | None
    subscription_id: str | None
    status: str
    attempts: int
    last_error: str | None
    last_status_code: int | None
    redeliveries: int
    created_at: datetime
    delivered_at: datetime | None
