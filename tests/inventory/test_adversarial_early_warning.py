"""Adversarial review of the early warning on an SBOM uploaded during the embargo (round 16,
helper R3): an operator in the group of a case not yet notified, a record withdrawn during the
embargo, two cases of one record with different TLP labels, and an SBOM uploaded by a
coordinator on an operator's behalf."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.coordination.models import Case
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.models import Exposure
from clearinghouse.vulns.models import Vulnerability
from tests.coordination.test_publication import received
from tests.inventory.support import cyclonedx, drain
from tests.inventory.test_early_warning import PURL, Scene, _notify, _ok, build_scene
from tests.inventory.test_early_warning_sbom import (
    ALERT,
    _addressed_to,
    _case,
    _exposures,
    _move,
    _new_asset_with_sbom,
)
from tests.support.world import World


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def test_the_group_of_a_case_not_yet_notified_is_not_warned_by_its_upload(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    asset = _new_asset_with_sbom(world, sc.inside.org_id)
    assert _exposures(world, asset) == []
    assert _addressed_to(world, sc.inside.org_id) == []
    assert _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)["items"] == []


def test_a_record_withdrawn_during_the_embargo_warns_no_new_sbom(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    with world.services.db.transaction() as s:
        vuln = s.get(Vulnerability, sc.vuln_id)
        assert vuln is not None
        vuln.withdrawn = utcnow()
    asset = _new_asset_with_sbom(world, sc.inside.org_id)
    assert _exposures(world, asset) == []
    assert len(received(world.services, sc.inside.org_id, ALERT)) == 1  # the notification's


def _set_tlp(world: World, case_id: str, tlp: str) -> None:
    with world.services.db.transaction() as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.tlp = tlp


@pytest.mark.parametrize("notify_newer", [False, True])
def test_a_newer_looser_case_never_loosens_the_warnings_label(
    client: TestClient, world: World, scene: Scene, notify_newer: bool
) -> None:
    """The operator was warned through a TLP:RED case, closed unpublished (one active case per
    record); a newer TLP:AMBER case of the same record then holds it in its group too
    (notified or not; its notification warns nothing new). The warning came through the RED
    case: the listing must never show it looser."""
    sc = scene
    _set_tlp(world, sc.case_id, "RED")
    _notify(client, sc)
    (alert,) = received(world.services, sc.inside.org_id, ALERT)
    assert "RED" in alert
    _move(client, sc, sc.case_id, "closed")  # unpublished: the record stays embargoed
    newer = _case(client, sc, "AMBER", sc.inside.org_id)
    if notify_newer:
        _move(client, sc, newer, "vendors_notified")
    page = _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)
    (item,) = page["items"]
    assert item["tlp"] == "RED", item
    one = _ok(client.get(f"/api/v1/exposures/{item['id']}", headers=sc.inside.headers), 200)
    assert one["tlp"] == "RED"


def test_a_newer_stricter_case_tightens_the_label(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    _move(client, sc, sc.case_id, "closed")
    newer = _case(client, sc, "RED", sc.inside.org_id)
    _move(client, sc, newer, "vendors_notified")
    (item,) = _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)["items"]
    assert item["tlp"] == "RED" and item["case_id"] == newer


def test_an_sbom_a_coordinator_uploads_for_an_operator_warns_that_operator_only(
    client: TestClient, world: World, scene: Scene
) -> None:
    """The coordinator uploads through the API on the group operator's asset, and on the
    outside operator's: the inside operator is warned (the alert addressed to it alone), the
    outside one gets nothing."""
    sc = scene
    _notify(client, sc)
    before = _addressed_to(world, sc.coordinator.org_id)
    for asset in (sc.inside_asset, sc.outside_asset):
        r = client.post(
            f"/api/v1/assets/{asset}/sboms",
            headers=sc.coordinator.headers,
            files={"file": ("bom.json", cyclonedx(PURL, "pkg:pypi/tinyparse@2.3.0"))},
        )
        assert r.status_code == 201, r.text
    drain(world.services)
    inside = {e.purl: e.detail for e in _exposures(world, sc.inside_asset)}
    assert inside == {PURL: "early_warning", "pkg:pypi/tinyparse@2.3.0": "early_warning"}
    assert _exposures(world, sc.outside_asset) == []
    alerts = received(world.services, sc.inside.org_id, ALERT)
    assert len(alerts) == 2 and "tinyparse@2.3.0" in alerts[1]
    assert _addressed_to(world, sc.outside.org_id) == []
    assert _addressed_to(world, sc.coordinator.org_id) == before
    with world.services.db.transaction() as s:
        assert not list(s.scalars(select(Exposure).where(Exposure.org_id == sc.coordinator.org_id)))
