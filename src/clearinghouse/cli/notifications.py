"""`clearinghouse notifications ...`: webhooks, deliveries, redelivery, e-mail subscriptions."""

from __future__ import annotations

from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors
from clearinghouse.notifications import subscriptions as subs
from clearinghouse.notifications import webhooks as hooks
from clearinghouse.notifications.schemas import SubscriptionCreate, WebhookCreate

app = typer.Typer(
    help="Notifications: webhooks (Standard Webhooks), deliveries, e-mail subscriptions.",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(help="Your organisation's webhooks.", no_args_is_help=True)
subs_app = typer.Typer(help="Your organisation's e-mail subscriptions.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(subs_app, name="subscriptions")

EventsOpt = Annotated[
    list[str], typer.Option("--event", help="event kind, family (case.*) or * (repeatable)")
]
PurlOpt = Annotated[
    list[str] | None, typer.Option("--purl-prefix", help="only these products (repeatable)")
]
SeverityOpt = Annotated[str | None, typer.Option(help="minimum severity: low .. critical")]
HOOK_COLUMNS = ["id", "url", "events", "min_severity", "created_at"]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="notifications")


@webhooks_app.command("create")
@handles_errors
def webhook_create(
    url: str,
    event: EventsOpt,
    purl_prefix: PurlOpt = None,
    min_severity: SeverityOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a webhook; prints its secret once."""
    body = WebhookCreate.model_validate(
        {
            "url": url,
            "events": event,
            "purl_prefixes": purl_prefix or [],
            "min_severity": min_severity,
        }
    )
    with acting(token) as (session, p, svc):
        emit(hooks.create_webhook(session, p, svc.vault, svc.settings, body), as_json)


@webhooks_app.command("list")
@handles_errors
def webhook_list(
    token: TokenOpt = None, limit: int = 50, cursor: str | None = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(hooks.list_webhooks(session, p, limit=limit, cursor=cursor), as_json, HOOK_COLUMNS)


@webhooks_app.command("delete")
@handles_errors
def webhook_delete(webhook_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, svc):
        hooks.delete_webhook(session, p, svc.vault, webhook_id)
    emit({"id": webhook_id, "deleted": True}, as_json)


@webhooks_app.command("rotate-secret")
@handles_errors
def webhook_rotate(webhook_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """A new signing secret, printed once."""
    with acting(token) as (session, p, svc):
        emit(hooks.rotate_secret(session, p, svc.vault, webhook_id), as_json)


@app.command("deliveries")
@handles_errors
def deliveries(
    webhook_id: str,
    status: str | None = None,
    token: TokenOpt = None,
    limit: int = 50,
    cursor: str | None = None,
    as_json: JsonOpt = False,
) -> None:
    """A webhook's deliveries: status, attempts, last error."""
    with acting(token) as (session, p, _):
        emit(
            hooks.list_deliveries(
                session, p, webhook_id, status=status, limit=limit, cursor=cursor
            ),
            as_json,
            ["id", "notification_id", "status", "attempts", "last_status_code", "last_error"],
        )


@app.command("redeliver")
@handles_errors
def redeliver(delivery_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Queue a dead letter again (same webhook-id)."""
    with acting(token) as (session, p, svc):
        emit(hooks.redeliver(session, p, svc.settings, delivery_id), as_json)


@subs_app.command("create")
@handles_errors
def subscription_create(
    email: str,
    event: EventsOpt,
    purl_prefix: PurlOpt = None,
    min_severity: SeverityOpt = None,
    digest: Annotated[bool, typer.Option(help="batch into the periodic digest")] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    body = SubscriptionCreate.model_validate(
        {
            "email": email,
            "events": event,
            "purl_prefixes": purl_prefix or [],
            "min_severity": min_severity,
            "digest": digest,
        }
    )
    with acting(token) as (session, p, _):
        emit(subs.create_subscription(session, p, body), as_json)


@subs_app.command("list")
@handles_errors
def subscription_list(
    token: TokenOpt = None, limit: int = 50, cursor: str | None = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(
            subs.list_subscriptions(session, p, limit=limit, cursor=cursor),
            as_json,
            ["id", "email", "events", "digest", "min_severity"],
        )


@subs_app.command("delete")
@handles_errors
def subscription_delete(
    subscription_id: str, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        subs.delete_subscription(session, p, subscription_id)
    emit({"id": subscription_id, "deleted": True}, as_json)
