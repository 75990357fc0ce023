"""Assets: an operator registers its own, a coordinator on an operator's behalf (audited), every
other kind is refused; an operator never sees another operator's assets by id, listing or
filter; anonymous callers get 401; bad input gets a clear 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.models import Asset
from tests.support.world import Member, World

ASSET = {"name": "water treatment plc", "sector": "water", "criticality": "critical"}


def _member(world: World, kind: OrgKind, role: Role = Role.member) -> Member:
    return world.member(world.org(kind), kind, role)


def _count(world: World) -> int:
    with world.services.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(Asset)) or 0


def test_an_operator_registers_its_asset_and_reads_it_back(
    client: TestClient, world: World
) -> None:
    op = _member(world, OrgKind.operator)
    r = client.post(
        "/api/v1/assets",
        headers=op.headers,
        json={
            "org_id": op.org_id,
            **ASSET,
            "owner_contact": "ot-security@water.example",
            "exposure": "controlled",
            "mission_impact": "mef_failure",
            "wellbeing_impact": "irreversible",
        },
    )
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["id"].startswith("ast_") and asset["org_id"] == op.org_id
    assert asset["sector"] == "water" and asset["exposure"] == "controlled"
    got = client.get(f"/api/v1/assets/{asset['id']}", headers=op.headers)
    assert got.status_code == 200 and got.json() == asset
    listed = client.get("/api/v1/assets", headers=op.headers).json()
    assert [a["id"] for a in listed["items"]] == [asset["id"]]


def test_operator_a_never_sees_operator_b_assets(client: TestClient, world: World) -> None:
    """The adversary is another operator: by id, by listing, by an org filter naming B, and by
    registering an asset in B's name."""
    a, b = _member(world, OrgKind.operator), _member(world, OrgKind.operator)
    mine = client.post("/api/v1/assets", headers=a.headers, json={"org_id": a.org_id, **ASSET})
    theirs = client.post("/api/v1/assets", headers=b.headers, json={"org_id": b.org_id, **ASSET})
    assert mine.status_code == theirs.status_code == 201
    bid = theirs.json()["id"]
    r = client.get(f"/api/v1/assets/{bid}", headers=a.headers)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    unknown = client.get("/api/v1/assets/ast_01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=a.headers)
    assert unknown.status_code == 404 and unknown.json()["detail"].startswith("no asset")
    for query in ("", f"?org_id={b.org_id}"):
        page = client.get(f"/api/v1/assets{query}", headers=a.headers).json()
        assert bid not in {x["id"] for x in page["items"]}
    before = _count(world)
    r = client.post("/api/v1/assets", headers=a.headers, json={"org_id": b.org_id, **ASSET})
    assert r.status_code == 404 and _count(world) == before


@pytest.mark.parametrize("kind", [OrgKind.lab, OrgKind.evaluator, OrgKind.vendor])
def test_other_kinds_neither_register_nor_see_assets(
    client: TestClient, world: World, kind: OrgKind
) -> None:
    op = _member(world, OrgKind.operator)
    asset = client.post("/api/v1/assets", headers=op.headers, json={"org_id": op.org_id, **ASSET})
    outsider = _member(world, kind, Role.admin)
    r = client.post(
        "/api/v1/assets", headers=outsider.headers, json={"org_id": outsider.org_id, **ASSET}
    )
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/assets/{asset.json()['id']}", headers=outsider.headers).status_code
        == 404
    )
    assert client.get("/api/v1/assets", headers=outsider.headers).json()["items"] == []


def test_a_coordinator_registers_on_an_operators_behalf_audited(
    client: TestClient, world: World
) -> None:
    op = _member(world, OrgKind.operator)
    co = _member(world, OrgKind.coordinator)
    r = client.post("/api/v1/assets", headers=co.headers, json={"org_id": op.org_id, **ASSET})
    assert r.status_code == 201 and r.json()["org_id"] == op.org_id
    assert client.get(f"/api/v1/assets/{r.json()['id']}", headers=op.headers).status_code == 200
    with world.services.db.transaction() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tag == AuditTag.INVENTORY_ASSET_CREATE,
                AuditEvent.subject_id == r.json()["id"],
            )
        ).one()
        assert event.data["on_behalf"] is True and event.data["org_id"] == op.org_id
    # but not for a lab: assets belong to operators
    lab = world.org(OrgKind.lab)
    r = client.post("/api/v1/assets", headers=co.headers, json={"org_id": lab, **ASSET})
    assert r.status_code == 422 and r.json()["code"] == "asset_org_not_operator"


def test_viewers_and_anonymous_callers_cannot_register(client: TestClient, world: World) -> None:
    viewer = _member(world, OrgKind.operator, Role.viewer)
    body = {"org_id": viewer.org_id, **ASSET}
    assert client.post("/api/v1/assets", headers=viewer.headers, json=body).status_code == 403
    assert client.post("/api/v1/assets", json=body).status_code == 401
    assert client.get("/api/v1/assets").status_code == 401


@pytest.mark.parametrize(
    "patch",
    [
        {"sector": "Energy"},
        {"sector": "space"},
        {"criticality": "urgent"},
        {"exposure": "internet"},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "nul\x00"},
        {"extra": 1},
    ],
)
def test_bad_asset_input_is_a_clear_422(client: TestClient, world: World, patch: dict) -> None:
    op = _member(world, OrgKind.operator)
    r = client.post(
        "/api/v1/assets", headers=op.headers, json={"org_id": op.org_id, **ASSET, **patch}
    )
    assert r.status_code == 422, r.text
