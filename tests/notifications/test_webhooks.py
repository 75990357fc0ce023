"""Webhooks end to end against a real HTTP receiver on 127.0.0.1: Standard Webhooks signatures
that the `standardwebhooks` library verifies, the outbox's transaction, retries with backoff,
dead letters and redelivery with the same webhook-id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.clock import utcnow
from clearinghouse.notifications.models import Delivery, Notification
from clearinghouse.notifications.outbox import EVERYONE, Variant, emit
from clearinghouse.storage.jobs import Job
from clearinghouse.storage.services import Services
from tests.notifications.support import drain, emit_public, receiver
from tests.support.world import Member, World


def _hook(client: TestClient, admin: Member, url: str, events: list[str] | None = None) -> dict:
    r = client.post(
        "/api/v1/webhooks", headers=admin.headers, json={"url": url, "events": events or ["*"]}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _admin(world: World) -> Member:
    return world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin)


def test_delivery_verifies_with_standardwebhooks_and_tampering_fails(
    client: TestClient, world: World, services: Services
) -> None:
    admin = _admin(world)
    with receiver() as rx:
        created = _hook(client, admin, rx.url)
        assert created["secret"].startswith("whsec_")
        emit_public(services, summary="a public summary")
        drain(services)
    assert len(rx.requests) == 1
    got = rx.requests[0]
    wh = Webhook(created["secret"])
    document = wh.verify(got.body, got.headers)
    assert document["type"] == "vuln.published"
    assert document["data"]["content"] == {"summary": "a public summary"}
    assert got.headers["webhook-id"].startswith("msg_")
    tampered = got.body.replace(b"a public summary", b"a forged summary")
    with pytest.raises(WebhookVerificationError):
        wh.verify(tampered, got.headers)
    later = {**got.headers, "webhook-timestamp": str(int(got.headers["webhook-timestamp"]) + 1)}
    with pytest.raises(WebhookVerificationError):
        wh.verify(got.body, later)
    with pytest.raises(WebhookVerificationError):  # another endpoint's secret
        Webhook(_hook(client, admin, rx.url)["secret"]).verify(got.body, got.headers)


def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: TestClient, world: World, services: Services
) -> None:
    admin = _admin(world)
    created = _hook(client, admin, "http://127.0.0.1:9/hook")
    shown = client.get(f"/api/v1/webhooks/{created['id']}", headers=admin.headers).json()
    assert "secret" not in shown
    listed = client.get("/api/v1/webhooks", headers=admin.headers).text
    assert created["secret"] not in listed
    with services.db.engine.connect() as conn:  # nowhere in the database in the clear
        from sqlalchemy import text

        for table in ("notification_webhooks", "sealed_values", "audit_events"):
            dump = str(conn.execute(text(f"SELECT * FROM {table}")).all())
            assert created["secret"][6:] not in dump, table
    rotated = client.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=admin.headers
    ).json()
    assert rotated["secret"] != created["secret"]


def test_a_rolled_back_change_notifies_nobody(world: World, services: Services) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), services.db.transaction() as s:
        emit(s, "vuln.published", "CH-1", {"p": Variant({"x": 1})}, {EVERYONE: "p"})
        raise Abort
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_retries_back_off_then_dead_letter_then_redelivery_keeps_the_webhook_id(
    client: TestClient, world: World, services: Services
) -> None:
    services.settings.notification_max_attempts = 3
    admin = _admin(world)
    with receiver(fail_first=3) as rx:
        hook = _hook(client, admin, rx.url)
        emit_public(services)
        drain(services)  # fan-out, then the first attempt fails
        with services.db.transaction() as s:
            job = s.scalars(select(Job).where(Job.kind == "notifications.deliver")).one()
            assert job.state == "queued" and job.run_at > utcnow() + timedelta(seconds=1)
            assert "HTTP 500" in (job.last_error or "")
        drain(services, skip_backoff=True)
        deliveries = client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin.headers
        ).json()["items"]
        assert len(deliveries) == 1
        dead = deliveries[0]
        assert dead["status"] == "dead" and dead["attempts"] == 3
        assert dead["last_status_code"] == 500 and "HTTP 500" in dead["last_error"]
        assert len(rx.requests) == 3
        again = client.post(f"/api/v1/deliveries/{dead['id']}/redeliver", headers=admin.headers)
        assert again.status_code == 200 and again.json()["status"] == "pending"
        twice = client.post(f"/api/v1/deliveries/{dead['id']}/redeliver", headers=admin.headers)
        assert twice.status_code == 409 and twice.json()["code"] == "delivery_not_dead"
        drain(services)
    assert rx.ids() == [dead["id"]] * 4  # one idempotency key for every attempt
    Webhook(hook["secret"]).verify(rx.requests[-1].body, rx.requests[-1].headers)
    with services.db.transaction() as s:
        d = s.get(Delivery, dead["id"])
        assert d is not None and d.status == "delivered" and d.redeliveries == 1


def test_filters_choose_the_webhooks(client: TestClient, world: World, services: Services) -> None:
    admin = _admin(world)
    with receiver() as cases, receiver() as severe, receiver() as other_product:
        _hook(client, admin, cases.url, ["case.*"])
        r = client.post(
            "/api/v1/webhooks",
            headers=admin.headers,
            json={"url": severe.url, "events": ["*"], "min_severity": "critical"},
        )
        assert r.status_code == 201
        r = client.post(
            "/api/v1/webhooks",
            headers=admin.headers,
            json={"url": other_product.url, "events": ["*"], "purl_prefixes": ["pkg:npm/"]},
        )
        assert r.status_code == 201
        emit_public(services, kind="case.published")  # high severity, a PyPI product
        emit_public(services, kind="vuln.published")
        drain(services)
    assert len(cases.requests) == 1
    assert json.loads(cases.requests[0].body)["type"] == "case.published"
    assert severe.requests == [] and other_product.requests == []


@pytest.mark.parametrize(
    "body,code",
    [
        ({"url": "http://127.0.0.1:9/x", "events": []}, "invalid_request"),
        ({"url": "http://127.0.0.1:9/x", "events": ["Bad Kind"]}, "invalid_request"),
        ({"url": "ftp://example.org/x", "events": ["*"]}, "endpoint_refused"),
        ({"url": "http://127.0.0.1:9/x", "events": ["*"], "secret": "mine"}, "invalid_request"),
    ],
)
def test_bad_webhooks_are_refused_with_a_stable_code(
    client: TestClient, world: World, body: dict, code: str
) -> None:
    r = client.post("/api/v1/webhooks", headers=_admin(world).headers, json=body)
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_private_receivers_are_refused_unless_configured(
    client: TestClient, world: World, services: Services
) -> None:
    services.settings.allow_private_endpoints = False
    r = client.post(
        "/api/v1/webhooks",
        headers=_admin(world).headers,
        json={"url": "http://169.254.169.254/latest", "events": ["*"]},
    )
    assert r.status_code == 422 and r.json()["code"] == "endpoint_refused", r.text


def test_another_organisations_webhook_does_not_exist_for_you(
    client: TestClient, world: World
) -> None:
    mine, theirs = _admin(world), _admin(world)
    hook = _hook(client, theirs, "http://127.0.0.1:9/x")
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    for caller in (mine, coordinator):
        for method, path in [
            ("GET", f"/api/v1/webhooks/{hook['id']}"),
            ("DELETE", f"/api/v1/webhooks/{hook['id']}"),
            ("POST", f"/api/v1/webhooks/{hook['id']}/rotate-secret"),
            ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries"),
        ]:
            assert client.request(method, path, headers=caller.headers).status_code == 404
        assert client.get("/api/v1/webhooks", headers=caller.headers).json()["items"] == []
