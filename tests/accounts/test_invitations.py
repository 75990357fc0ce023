"""Invitations, and the end of cross-organisation user and token minting.

The attack these tests replay: a coordinator admin mints a token for a lab's user (or creates an
admin in the lab's organisation and mints one for it), then reads the lab's confidential findings
under the lab user's name. Every test here plays that coordinator, or a holder of a code.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from clearinghouse.accounts.models import Invitation, OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.core.clock import utcnow
from tests.support.world import Member, World


def _coordinator(world: World) -> Member:
    return world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)


def _invite(client: TestClient, who: Member, org_id: str, email: str, role: str = "admin"):
    return client.post(
        f"/api/v1/orgs/{org_id}/invitations",
        headers=who.headers,
        json={"email": email, "role": role},
    )


def _accept(client: TestClient, code: str):
    return client.post("/api/v1/invitations/accept", json={"code": code})


def _refusals(world: World) -> list[str]:
    with world.services.db.transaction() as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == "accounts:invitation:refuse")
            .order_by(AuditEvent.seq)
        ).all()
        return [e.data["reason"] for e in events]


def test_a_coordinator_cannot_act_as_a_labs_user(client: TestClient, world: World) -> None:
    coord = _coordinator(world)
    lab = world.org(OrgKind.lab)
    liaison = world.member(lab, OrgKind.lab, Role.admin)
    # Mint a token for the lab's user: refused (the coordinator may see the user, not act as it).
    r = client.post("/api/v1/tokens", headers=coord.headers, json={"user_id": liaison.user_id})
    assert r.status_code == 403, r.text
    # Add its own admin to the lab's organisation: refused.
    r = client.post(
        "/api/v1/users",
        headers=coord.headers,
        json={"org_id": lab, "email": "mole@coordinator.example", "role": "admin"},
    )
    assert r.status_code == 403, r.text
    # Invite one: refused too, since the lab already has an admin.
    assert _invite(client, coord, lab, "mole@coordinator.example").status_code == 403
    # Nothing was created: the lab's member list is the liaison alone.
    users = client.get("/api/v1/users", headers=liaison.headers).json()["items"]
    assert [u["id"] for u in users] == [liaison.user_id]


def test_first_admin_by_invitation_then_the_org_decides(client: TestClient, world: World) -> None:
    coord = _coordinator(world)
    lab = client.post(
        "/api/v1/orgs", headers=coord.headers, json={"name": "Frontier Lab", "kind": "lab"}
    ).json()["id"]
    # Only an admin may be invited by an outsider, and only while the org has none.
    assert _invite(client, coord, lab, "member@lab.example", role="member").status_code == 403
    first = _invite(client, coord, lab, "admin@lab.example")
    spare = _invite(client, coord, lab, "spare@coordinator.example")
    assert first.status_code == spare.status_code == 201
    issued = first.json()
    assert set(issued) >= {"id", "code", "expires_at"}
    # The code is shown once: listings never carry it.
    listing = client.get(f"/api/v1/orgs/{lab}/invitations", headers=coord.headers).json()
    assert all("code" not in i for i in listing["items"])

    accepted = _accept(client, issued["code"])
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["org_id"] == lab and body["token"].startswith("chk_")
    admin_headers = {"Authorization": f"Bearer {body['token']}"}
    me = client.get(f"/api/v1/users/{body['user_id']}", headers=admin_headers).json()
    assert me["role"] == "admin" and me["email"] == "admin@lab.example"

    # The coordinator's spare invitation is void now that the lab has an admin ...
    r = _accept(client, spare.json()["code"])
    assert r.status_code == 401 and r.json()["code"] == "invitation_invalid"
    assert _refusals(world) == ["superseded"]
    # ... and it may invite nobody else into the lab.
    assert _invite(client, coord, lab, "again@coordinator.example").status_code == 403
    assert client.get(f"/api/v1/orgs/{lab}/invitations", headers=coord.headers).status_code == 403

    # The lab's admin invites its own member, who joins with the invited role.
    member = _invite(
        client,
        Member(lab, body["user_id"], body["token"], OrgKind.lab, Role.admin),
        lab,
        "analyst@lab.example",
        role="member",
    )
    assert member.status_code == 201
    joined = _accept(client, member.json()["code"]).json()
    r = client.get(
        f"/api/v1/users/{joined['user_id']}",
        headers={"Authorization": f"Bearer {joined['token']}"},
    )
    assert r.json()["role"] == "member"


def test_a_code_works_once_and_expires(client: TestClient, world: World) -> None:
    coord = _coordinator(world)
    lab = world.org(OrgKind.lab)
    code = _invite(client, coord, lab, "a@lab.example").json()["code"]
    assert _accept(client, code).status_code == 201
    again = _accept(client, code)
    assert again.status_code == 401 and again.json()["code"] == "invitation_invalid"

    other = world.org(OrgKind.vendor)
    late = _invite(client, coord, other, "b@vendor.example").json()
    with world.services.db.transaction() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.id == late["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = _accept(client, late["code"])
    assert r.status_code == 401 and r.json()["code"] == "invitation_invalid"
    # The caller learns nothing; the trail records why each real invitation was refused.
    assert _refusals(world) == ["used", "expired"]

    for guess in ("chi_" + "A" * 43, late["code"][:-1] + "x", "", " " * 5):
        r = _accept(client, guess)
        assert r.status_code in (401, 422), (guess, r.status_code)
        assert r.headers["content-type"] == "application/problem+json"
    assert _refusals(world) == ["used", "expired"]  # unknown codes name no invitation


def test_an_outsider_learns_nothing_about_other_orgs_emails(
    client: TestClient, world: World
) -> None:
    vendor = world.org(OrgKind.vendor)
    vendor_admin = world.member(vendor, OrgKind.vendor, Role.admin)
    lab = world.org(OrgKind.lab)
    lab_admin = world.member(lab, OrgKind.lab, Role.admin)
    taken = client.post(
        "/api/v1/users",
        headers=lab_admin.headers,
        json={"org_id": lab, "email": "Person@Example.org", "role": "member"},
    )
    assert taken.status_code == 201
    # The same address in another organisation: created, no 409 that would say "exists".
    r = client.post(
        "/api/v1/users",
        headers=vendor_admin.headers,
        json={"org_id": vendor, "email": "person@example.org", "role": "member"},
    )
    assert r.status_code == 201, r.text
    assert _invite(client, vendor_admin, vendor, "PERSON@example.org").status_code == 409
    # Within one organisation the address stays unique.
    r = client.post(
        "/api/v1/users",
        headers=lab_admin.headers,
        json={"org_id": lab, "email": "person@example.org", "role": "viewer"},
    )
    assert r.status_code == 409 and r.json()["code"] == "already_exists"


def test_an_org_admin_mints_only_inside_its_org(client: TestClient, world: World) -> None:
    lab = world.org(OrgKind.lab)
    lab_admin = world.member(lab, OrgKind.lab, Role.admin)
    colleague = world.member(lab, OrgKind.lab, Role.viewer)
    r = client.post(
        "/api/v1/tokens",
        headers=lab_admin.headers,
        json={"user_id": colleague.user_id, "scopes": ["read"]},
    )
    assert r.status_code == 201
    evaluator = world.org(OrgKind.evaluator)
    outsider = world.member(evaluator, OrgKind.evaluator, Role.viewer)
    r = client.post("/api/v1/tokens", headers=lab_admin.headers, json={"user_id": outsider.user_id})
    assert r.status_code == 404  # not even visible
    assert _invite(client, lab_admin, evaluator, "x@lab.example").status_code == 404
