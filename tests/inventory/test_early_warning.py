"""Early warning under embargo: an operator in a case's sharing group gets an AMBER exposure
with limited detail when the vendors are notified (and one that joins later, at once), with an
outbox alert for it alone; an operator outside the group, a vendor, a lab and anonymous callers
get nothing, whatever they ask (list, filter, id, metrics, CLI); the record's details and PoC
never appear in any answer. At publication the exposure becomes full, and the outside operator
is matched then."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.inventory import assets
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.vulns.models import Vulnerability
from tests.coordination.test_publication import received
from tests.inventory.support import cyclonedx, drain
from tests.support.vulns import submit
from tests.support.world import Member, World

MARKER = "qx9-early-warning-secret-77"
PURL = "pkg:pypi/tinyparse@2.4.0"


@dataclass
class Scene:
    coordinator: Member
    vendor: Member
    inside: Member
    outside: Member
    lab: Member
    inside_asset: str
    outside_asset: str
    vuln_id: str
    case_id: str


def _ok(r: Any, code: int = 201) -> dict[str, Any]:
    assert r.status_code == code, r.text
    body: dict[str, Any] = r.json()
    return body


def _operator(world: World) -> tuple[Member, str]:
    org = world.org(OrgKind.operator)
    member = world.member(org, OrgKind.operator, Role.member)
    svc = world.services
    with svc.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "substation", "sector": "energy", "criticality": "critical"}
        )
        asset = assets.create_asset(s, Principal.system(), body).id
        upload(s, Principal.system(), svc.settings, asset, cyclonedx(PURL))
    return member, asset


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def build_scene(client: TestClient, world: World) -> Scene:
    """A notified-to-be case over a lab's record, with a vendor and one operator (`inside`) in
    its sharing group; another operator (`outside`) with the same package, not in it."""

    def m(kind: OrgKind) -> Member:
        return world.member(world.org(kind), kind, Role.member)

    coordinator, vendor, lab = m(OrgKind.coordinator), m(OrgKind.vendor), m(OrgKind.lab)
    inside, inside_asset = _operator(world)
    outside, outside_asset = _operator(world)
    report = submit(
        client,
        lab,
        title=f"Heap overflow {MARKER} in tinyparse",
        description=f"The header reader overflows; recipe {MARKER} follows.",
    )
    vuln_id = report["vuln_id"]
    with world.services.db.transaction() as s:
        vuln = s.get(Vulnerability, vuln_id)
        assert vuln is not None
        vuln.record = {
            **vuln.record,
            "details": f"details {MARKER}",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "tinyparse"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.5"}]}
                    ],
                }
            ],
        }
    drain(world.services)  # the SBOMs are matched: nothing visible to either operator yet
    case = _ok(
        client.post(
            "/api/v1/cases",
            headers=coordinator.headers,
            json={"vuln_ids": [vuln_id], "title": f"case {MARKER}", "tlp": "AMBER"},
        )
    )
    for org, role in ((vendor.org_id, "vendor"), (inside.org_id, "operator_group")):
        _ok(
            client.post(
                f"/api/v1/cases/{case['id']}/participants",
                headers=coordinator.headers,
                json={"org_id": org, "role": role},
            )
        )
    return Scene(
        coordinator,
        vendor,
        inside,
        outside,
        lab,
        inside_asset,
        outside_asset,
        vuln_id,
        case["id"],
    )


def _notify(client: TestClient, sc: Scene) -> None:
    _ok(
        client.post(
            f"/api/v1/cases/{sc.case_id}/transition",
            headers=sc.coordinator.headers,
            json={"to": "vendors_notified"},
        ),
        200,
    )


def publish(client: TestClient, world: World, sc: Scene) -> None:
    """The coordinator publishes the case now; the jobs it queues run."""
    _ok(
        client.post(
            f"/api/v1/cases/{sc.case_id}/publish",
            headers=sc.coordinator.headers,
            json={"reason": "fix released"},
        ),
        200,
    )
    drain(world.services)


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()

    def run(token: str, *args: str) -> Any:
        return runner.invoke(app, ["inventory", *args], env={"CLEARINGHOUSE_TOKEN": token})

    yield run


def _answers(client: TestClient, cli: Any, who: Member, sc: Scene, eid: str) -> list[Any]:
    """Everything `who` can ask about exposures: list, filters, one by id, metrics, CLI."""
    queries = ("", f"?asset={sc.inside_asset}", "?ssvc=Act", "?severity=high", "?kev=false")
    out = [client.get(f"/api/v1/exposures{q}", headers=who.headers) for q in queries]
    out.append(client.get(f"/api/v1/exposures/{eid}", headers=who.headers))
    out.append(client.get("/api/v1/inventory/metrics", headers=who.headers))
    out.append(cli(who.token, "exposures", "--json"))
    out.append(cli(who.token, "exposures", "--asset", sc.inside_asset, "--json"))
    return out


def test_the_group_gets_an_amber_early_warning_and_nobody_else_anything(
    client: TestClient, world: World, cli: Any, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    page = _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)
    (item,) = page["items"]
    assert item["detail"] == "early_warning" and item["tlp"] == "AMBER"
    assert item["case_id"] == sc.case_id and item["purl"] == PURL and item["fixed_in"] == "2.5"
    assert item["ssvc"] is not None and item["due_at"] is not None  # prioritised
    eid = item["id"]
    # the inside operator's own answers never carry the record's text or PoC
    for r in _answers(client, cli, sc.inside, sc, eid):
        text = r.text if hasattr(r, "text") else r.stdout
        assert MARKER not in text
    # outside operator, vendor, lab: nothing, whatever they ask
    for who in (sc.outside, sc.vendor, sc.lab):
        answers = _answers(client, cli, who, sc, eid)
        lists, (by_id, metrics, cli_all, cli_asset) = answers[:5], answers[5:]
        assert all(r.json()["items"] == [] for r in lists)
        assert by_id.status_code == 404
        assert metrics.json()["open_total"] == 0
        assert json.loads(cli_all.stdout) == [] and json.loads(cli_asset.stdout) == []
    assert client.get(f"/api/v1/exposures/{eid}").status_code == 401
    # the alert: to the group's operator alone, AMBER, limited detail
    (alert,) = received(world.services, sc.inside.org_id, "inventory.early_warning")
    assert MARKER not in alert and "AMBER" in alert and PURL in alert
    for who in (sc.outside, sc.vendor, sc.lab):
        assert received(world.services, who.org_id, "inventory.early_warning") == []


def test_a_later_member_of_the_group_is_warned_at_once_and_publication_discloses(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    late, late_asset = _operator(world)
    drain(world.services)
    _ok(
        client.post(
            f"/api/v1/cases/{sc.case_id}/participants",
            headers=sc.coordinator.headers,
            json={"org_id": late.org_id, "role": "operator_group"},
        )
    )
    (item,) = _ok(client.get("/api/v1/exposures", headers=late.headers), 200)["items"]
    assert item["detail"] == "early_warning" and item["asset_id"] == late_asset
    assert _ok(client.get("/api/v1/exposures", headers=sc.outside.headers), 200)["items"] == []
    # publication: the warnings become full, and the outside operator is matched now
    publish(client, world, sc)
    (full,) = _ok(client.get("/api/v1/exposures", headers=sc.inside.headers), 200)["items"]
    assert full["detail"] == "full" and full["tlp"] is None
    (outside,) = _ok(client.get("/api/v1/exposures", headers=sc.outside.headers), 200)["items"]
    assert outside["detail"] == "full" and outside["asset_id"] == sc.outside_asset
