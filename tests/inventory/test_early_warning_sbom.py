"""Early warning for what an operator uploads during the embargo, and through the right case.

- An operator of a notified case's sharing group that uploads a new SBOM during the embargo is
  warned about a package that first appears in it (the SBOM's match job), with one alert.
- An operator outside the group uploading the same SBOM gets nothing: no exposure, no alert.
- A record coordinated first in a case whose group held the operator, then (that case closed)
  in a newer case whose group does not: the operator's early warning names the case it came
  through, with that case's TLP, never the newer case it is no party to."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.notifications.models import Notification
from tests.coordination.test_publication import received
from tests.inventory.support import cyclonedx, drain
from tests.inventory.test_early_warning import (
    PURL,
    Scene,
    _notify,
    _ok,
    _operator,
    build_scene,
)
from tests.support.world import World

ALERT = "inventory.early_warning"


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def _new_asset_with_sbom(world: World, org_id: str, purl: str = PURL) -> str:
    svc = world.services
    with svc.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org_id, "name": "new plant", "sector": "water", "criticality": "high"}
        )
        asset = assets.create_asset(s, Principal.system(), body).id
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx(purl))
    drain(svc)
    return asset


def _exposures(world: World, asset: str) -> list[Exposure]:
    with world.services.db.transaction() as s:
        rows = list(s.scalars(select(Exposure).where(Exposure.asset_id == asset)))
        for row in rows:
            s.expunge(row)
        return rows


def _addressed_to(world: World, org_id: str) -> list[str]:
    """Outbox rows naming `org_id` anywhere in their audience."""
    with world.services.db.transaction() as s:
        return [n.id for n in s.scalars(select(Notification)) if org_id in str(n.audience)]


def test_an_sbom_the_group_uploads_during_the_embargo_is_warned(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    assert len(received(world.services, sc.inside.org_id, ALERT)) == 1
    asset = _new_asset_with_sbom(world, sc.inside.org_id)
    (e,) = _exposures(world, asset)
    assert e.detail == "early_warning" and e.purl == PURL and e.ssvc is not None
    alerts = received(world.services, sc.inside.org_id, ALERT)
    assert len(alerts) == 2 and asset in alerts[1] and "AMBER" in alerts[1]
    page = _ok(client.get(f"/api/v1/exposures?asset={asset}", headers=sc.inside.headers), 200)
    (item,) = page["items"]
    assert item["tlp"] == "AMBER" and item["case_id"] == sc.case_id
    # another upload of the same SBOM (a new SBOM, its own match job) warns nothing twice
    with world.services.db.transaction() as s:
        upload(s, Principal.system(), world.services.settings, asset, cyclonedx(PURL))
    drain(world.services)
    assert len(received(world.services, sc.inside.org_id, ALERT)) == 2
    assert [x.id for x in _exposures(world, asset)] == [e.id]


def test_an_operator_outside_the_group_uploading_the_same_sbom_gets_nothing(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    asset = _new_asset_with_sbom(world, sc.outside.org_id)
    assert _exposures(world, asset) == []
    assert received(world.services, sc.outside.org_id, ALERT) == []
    assert _addressed_to(world, sc.outside.org_id) == []
    page = _ok(client.get("/api/v1/exposures", headers=sc.outside.headers), 200)
    assert page["items"] == []


def _case(client: TestClient, sc: Scene, tlp: str, group: str) -> str:
    case = _ok(
        client.post(
            "/api/v1/cases",
            headers=sc.coordinator.headers,
            json={"vuln_ids": [sc.vuln_id], "title": "second case", "tlp": tlp},
        )
    )
    for org, role in ((sc.vendor.org_id, "vendor"), (group, "operator_group")):
        _ok(
            client.post(
                f"/api/v1/cases/{case['id']}/participants",
                headers=sc.coordinator.headers,
                json={"org_id": org, "role": role},
            )
        )
    return str(case["id"])


def _move(client: TestClient, sc: Scene, case_id: str, to: str) -> Any:
    return _ok(
        client.post(
            f"/api/v1/cases/{case_id}/transition",
            headers=sc.coordinator.headers,
            json={"to": to},
        ),
        200,
    )


def test_the_warning_names_the_case_it_came_through_not_a_newer_one(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)  # the first case (AMBER) warns the inside operator
    _move(client, sc, sc.case_id, "closed")
    late, late_asset = _operator(world)
    drain(world.services)
    newer = _case(client, sc, "RED", late.org_id)
    _move(client, sc, newer, "vendors_notified")
    # the newer case warns its own group
    (theirs,) = _ok(client.get("/api/v1/exposures", headers=late.headers), 200)["items"]
    assert theirs["case_id"] == newer and theirs["tlp"] == "RED"
    assert theirs["asset_id"] == late_asset
    # the inside operator's warning still comes through the first case, at its label
    page = _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)
    (mine,) = page["items"]
    assert mine["case_id"] == sc.case_id and mine["tlp"] == "AMBER"
    one = client.get(f"/api/v1/exposures/{mine['id']}", headers=sc.inside.headers)
    for answer in (page, _ok(one, 200)):
        assert newer not in str(answer)
    # and the newer case's notification told the inside operator nothing
    assert len(received(world.services, sc.inside.org_id, ALERT)) == 1
