"""Content respects TLP and embargo on every channel: an organisation without clearance,
subscribed to every event by webhook, e-mail and digest, receives nothing embargoed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.clock import utcnow
from clearinghouse.core.tlp import Tlp
from clearinghouse.notifications import digests
from clearinghouse.notifications.errors import Overshare
from clearinghouse.notifications.models import Delivery, Notification
from clearinghouse.notifications.outbox import EVERYONE, Meta, Variant, emit
from clearinghouse.storage.services import Services
from tests.notifications.support import drain, receiver, smtp_server
from tests.support.world import World

SECRET = "heap overflow in parse_header() via a 70000-byte Host"


def _subscribe_everything(client: TestClient, world: World, url: str) -> tuple[str, str]:
    org = world.org(OrgKind.operator)
    admin = world.member(org, OrgKind.operator, Role.admin)
    r = client.post("/api/v1/webhooks", headers=admin.headers, json={"url": url, "events": ["*"]})
    assert r.status_code == 201
    for digest in (False, True):
        r = client.post(
            "/api/v1/subscriptions",
            headers=admin.headers,
            json={"email": f"soc{int(digest)}@example.org", "events": ["*"], "digest": digest},
        )
        assert r.status_code == 201, r.text
    return org, r.json()["id"]


def _embargoed(services: Services, cleared_org: str, *, everyone: bool = False) -> None:
    variants = {"full": Variant({"details": SECRET}, Tlp.amber)}
    audience = {cleared_org: "full"}
    if everyone:
        audience[EVERYONE] = "full"
    with services.db.transaction() as s:
        emit(
            s,
            "case.updated",
            "CASE-1",
            variants,
            audience,
            Meta(severity="critical", embargo_until=utcnow() + timedelta(days=30)),
        )


def test_an_uncleared_subscriber_gets_nothing_embargoed_on_any_channel(
    client: TestClient, world: World, services: Services
) -> None:
    vendor = world.org(OrgKind.vendor)
    with smtp_server() as box, receiver() as rx:
        services.settings.smtp_host, services.settings.smtp_port = "127.0.0.1", box.port
        outsider, digest_sub = _subscribe_everything(client, world, rx.url)
        _embargoed(services, vendor)
        drain(services)
        assert digests.send_digest(services, digest_sub) == 0
        with services.db.transaction() as s:
            assert s.scalars(select(Delivery).where(Delivery.org_id == outsider)).all() == []
        assert rx.requests == [] and box.messages == []


def test_emitting_embargoed_content_to_everyone_is_refused_and_rolls_back(
    world: World, services: Services
) -> None:
    with pytest.raises(Overshare):
        _embargoed(services, world.org(OrgKind.vendor), everyone=True)
    with services.db.transaction() as s:
        assert s.scalars(select(Notification)).all() == []
    with pytest.raises(Overshare), services.db.transaction() as s:  # AMBER to everyone, no embargo
        emit(s, "case.updated", "C", {"a": Variant({"x": 1}, Tlp.amber)}, {EVERYONE: "a"})


def test_a_forged_outbox_row_still_overshares_nothing(
    client: TestClient, world: World, services: Services
) -> None:
    """A row written around emit() (a bug elsewhere, a hand edit) asking for AMBER content to
    go to everyone: the fan-out checks again and sends it nowhere outside the audience."""
    with receiver() as rx:
        _subscribe_everything(client, world, rx.url)
        with services.db.transaction() as s:
            row = emit(s, "case.updated", "C", {"p": Variant({"x": "ok"})}, {EVERYONE: "p"})
            row.variants = {"p": {"tlp": "AMBER", "payload": {"details": SECRET}}}
        drain(services)
    assert rx.requests == []


def test_each_organisation_gets_only_its_variant_digest_included(
    client: TestClient, world: World, services: Services
) -> None:
    vendor = world.org(OrgKind.vendor)
    with smtp_server() as box, receiver() as rx:
        services.settings.smtp_host, services.settings.smtp_port = "127.0.0.1", box.port
        outsider, digest_sub = _subscribe_everything(client, world, rx.url)
        with services.db.transaction() as s:
            emit(
                s,
                "vuln.published",
                "CH-1",
                {
                    "public": Variant({"summary": "a parser flaw, fixed in 2.0"}, Tlp.clear),
                    "full": Variant({"details": SECRET}, Tlp.amber),
                },
                {EVERYONE: "public", vendor: "full"},
            )
        drain(services)
        assert digests.send_digest(services, digest_sub) == 1
    assert len(rx.requests) == 1 and len(box.messages) == 2  # immediate e-mail and digest
    for content in [rx.requests[0].body, *box.messages]:
        assert b"a parser flaw" in content and SECRET.encode() not in content
    with services.db.transaction() as s:
        mine = s.scalars(select(Delivery).where(Delivery.org_id == outsider)).all()
        assert {d.variant for d in mine} == {"public"}
        assert {d.status for d in mine} == {"delivered"}


def test_email_carries_the_delivery_id_as_message_id(
    client: TestClient, world: World, services: Services
) -> None:
    with smtp_server() as box:
        services.settings.smtp_host, services.settings.smtp_port = "127.0.0.1", box.port
        admin = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
        r = client.post(
            "/api/v1/subscriptions",
            headers=admin.headers,
            json={"email": "psirt@example.org", "events": ["vuln.*"], "min_severity": "medium"},
        )
        assert r.status_code == 201
        from tests.notifications.support import emit_public

        emit_public(services)
        drain(services)
    assert len(box.messages) == 1
    with services.db.transaction() as s:
        d = s.scalars(select(Delivery)).one()
    assert f"Message-ID: <{d.id}@clearinghouse>".encode() in box.messages[0]
    assert d.status == "delivered"


@pytest.mark.parametrize(
    "email", ["a@b.org\r\nBcc: x@evil.org", "no-at-sign", "Name <a@b.org>", "a b@c.org"]
)
def test_header_injection_in_an_address_is_refused(
    client: TestClient, world: World, email: str
) -> None:
    admin = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    r = client.post(
        "/api/v1/subscriptions", headers=admin.headers, json={"email": email, "events": ["*"]}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
