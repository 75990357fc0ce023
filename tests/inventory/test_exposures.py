"""Exposures: the prioritised listing (order, filters, keyset cursor), one exposure with its
history, the status workflow (an independent table of every move), bulk changes all or
nothing, and isolation between operators for every role, over HTTP and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import IllegalTransition
from clearinghouse.inventory import assets
from clearinghouse.inventory.exposures import check_transition
from clearinghouse.inventory.models import ExposureEvent, ExposureStatus
from clearinghouse.inventory.schemas import AssetCreate
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.support.world import Member, World

S = ExposureStatus
# The workflow, written out independently of inventory.exposures.TRANSITIONS.
LEGAL = {
    ("open", "in_progress"),
    ("open", "mitigated"),
    ("open", "remediated"),
    ("open", "risk_accepted"),
    ("open", "not_affected"),
    ("in_progress", "mitigated"),
    ("in_progress", "remediated"),
    ("in_progress", "risk_accepted"),
    ("in_progress", "not_affected"),
    ("mitigated", "in_progress"),
    ("mitigated", "remediated"),
    ("mitigated", "risk_accepted"),
    ("risk_accepted", "open"),
    ("risk_accepted", "in_progress"),
    ("not_affected", "open"),
}


@pytest.mark.parametrize("src", list(S))
@pytest.mark.parametrize("dst", list(S))
def test_every_move_of_the_workflow(src: ExposureStatus, dst: ExposureStatus) -> None:
    if (src.value, dst.value) in LEGAL:
        check_transition(src, dst)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(src, dst)


def _operator(world: World, role: Role = Role.member, sector: str = "energy") -> tuple[Member, str]:
    org = world.org(OrgKind.operator)
    member = world.member(org, OrgKind.operator, role)
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "plant", "sector": sector, "criticality": "high"}
        )
        return member, assets.create_asset(s, Principal.system(), body).id


@pytest.fixture
def two(world: World) -> dict[str, Any]:
    """Operators A and B, one asset each; A has exposures of every priority, B one."""
    a, asset_a = _operator(world)
    b, asset_b = _operator(world, sector="water")
    now = utcnow()
    with world.services.db.transaction() as s:
        v1 = import_record(s, osv_doc("PYSEC-2026-100", aliases=("CVE-2026-0100",)))
        v2 = import_record(s, osv_doc("PYSEC-2026-101"))
        ids = {
            "track": exposure(s, asset_a, v1, ssvc="Track", severity="low"),
            "act_late": exposure(s, asset_a, v1, ssvc="Act", due_at=now + timedelta(days=9)),
            "none": exposure(s, asset_a, v2, ssvc=None, severity="unknown"),
            "attend": exposure(s, asset_a, v2, ssvc="Attend", kev=True, severity="critical"),
            "act_nodue": exposure(s, asset_a, v2, ssvc="Act"),
            "act_soon": exposure(s, asset_a, v1, ssvc="Act", due_at=now + timedelta(days=1)),
            "trackstar": exposure(s, asset_a, v1, ssvc="Track*", status="in_progress"),
            "b": exposure(s, asset_b, v1, ssvc="Act", due_at=now + timedelta(days=1)),
        }
    return {"a": a, "b": b, "asset_a": asset_a, "asset_b": asset_b, "ids": ids, "v1": v1}


ORDER = ["act_soon", "act_late", "act_nodue", "attend", "trackstar", "track", "none"]


def _all(client: TestClient, member: Member, query: str = "", limit: int = 2) -> list[str]:
    ids: list[str] = []
    cursor = ""
    while True:
        r = client.get(f"/api/v1/exposures?limit={limit}{query}{cursor}", headers=member.headers)
        assert r.status_code == 200, r.text
        ids += [i["id"] for i in r.json()["items"]]
        if not r.json()["next_cursor"]:
            return ids
        cursor = f"&cursor={r.json()['next_cursor']}"


def test_listing_is_ordered_by_ssvc_then_due_date_across_pages(
    client: TestClient, two: dict[str, Any]
) -> None:
    names = {v: k for k, v in two["ids"].items()}
    got = [names[i] for i in _all(client, two["a"])]
    assert got == ORDER  # pages of 2 in the same order as one page
    assert [names[i] for i in _all(client, two["a"], limit=200)] == ORDER


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("&status=in_progress", ["trackstar"]),
        ("&severity=critical", ["attend"]),
        ("&kev=true", ["attend"]),
        ("&ssvc=Act", ["act_soon", "act_late", "act_nodue"]),
        ("&ssvc=Track*", ["trackstar"]),
        ("&ssvc=Act&severity=high&status=open", ["act_soon", "act_late", "act_nodue"]),
    ],
)
def test_filters(client: TestClient, two: dict[str, Any], query: str, expected: list[str]) -> None:
    names = {v: k for k, v in two["ids"].items()}
    got = [names[i] for i in _all(client, two["a"], query.replace("*", "%2A"))]
    assert got == expected


def test_asset_filter_and_bad_input(client: TestClient, two: dict[str, Any]) -> None:
    a = two["a"]
    assert len(_all(client, a, f"&asset={two['asset_a']}")) == 7
    # another operator's asset: nothing, not an error that confirms it exists
    assert _all(client, a, f"&asset={two['asset_b']}") == []
    for bad in ("status=closed", "severity=severe", "ssvc=Now", "kev=maybe", "limit=0"):
        r = client.get(f"/api/v1/exposures?{bad}", headers=a.headers)
        assert r.status_code == 422, bad
    # a forged cursor is refused, not a 500
    for forged in ("Zm9v", "MS4yMDI2LngvLi4=", "!!!"):
        r = client.get(f"/api/v1/exposures?cursor={forged}", headers=a.headers)
        assert r.status_code == 422 and r.json()["code"] == "cursor_invalid", forged


def test_status_workflow_records_who_when_why_and_audits(
    client: TestClient, services: Services, two: dict[str, Any]
) -> None:
    a, eid = two["a"], two["ids"]["act_soon"]
    url = f"/api/v1/exposures/{eid}/status"
    r = client.post(
        url, json={"status": "in_progress", "note": "patch window Tue"}, headers=a.headers
    )
    assert r.status_code == 200, r.text
    r = client.post(url, json={"status": "remediated", "note": "upgraded"}, headers=a.headers)
    body = r.json()
    assert body["status"] == "remediated" and body["closed_at"] is not None
    moves = [(e["from_status"], e["to_status"], e["note"], e["actor"]) for e in body["events"]]
    assert moves[1:] == [
        ("open", "in_progress", "patch window Tue", a.user_id),
        ("in_progress", "remediated", "upgraded", a.user_id),
    ]
    # final: no way back, and nothing written by the refusal
    r = client.post(url, json={"status": "open"}, headers=a.headers)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    with services.db.transaction() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ExposureEvent)
                .where(ExposureEvent.exposure_id == eid)
            )
            == 3
        )
        tags = s.scalars(select(AuditEvent.tag).where(AuditEvent.subject_id == eid)).all()
        assert tags == ["inventory:exposure:status"] * 2


def test_not_affected_needs_a_justification_and_only_it_takes_one(
    client: TestClient, two: dict[str, Any]
) -> None:
    a, eid = two["a"], two["ids"]["attend"]
    url = f"/api/v1/exposures/{eid}/status"
    r = client.post(url, json={"status": "not_affected"}, headers=a.headers)
    assert r.status_code == 422 and r.json()["code"] == "justification_required"
    r = client.post(
        url,
        json={"status": "in_progress", "justification": "component_not_present"},
        headers=a.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "justification_not_allowed"
    r = client.post(
        url,
        json={"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        headers=a.headers,
    )
    assert (
        r.status_code == 200 and r.json()["justification"] == "vulnerable_code_not_in_execute_path"
    )


def test_bulk_is_all_or_nothing_and_names_the_first_refused_id(
    client: TestClient, services: Services, two: dict[str, Any]
) -> None:
    a, ids = two["a"], two["ids"]
    url = "/api/v1/exposures/bulk-status"

    def statuses() -> dict[str, str]:
        return {
            k: client.get(f"/api/v1/exposures/{v}", headers=a.headers).json()["status"]
            for k, v in ids.items()
            if k != "b"
        }

    before = statuses()
    # another operator's exposure in the batch: 404 naming it, nothing changed
    r = client.post(
        url, json={"ids": [ids["track"], ids["b"]], "status": "in_progress"}, headers=a.headers
    )
    assert r.status_code == 404 and ids["b"] in r.json()["detail"]
    # an illegal move for one of them (trackstar is already in_progress): 409 naming it
    r = client.post(
        url,
        json={"ids": [ids["track"], ids["trackstar"]], "status": "in_progress"},
        headers=a.headers,
    )
    assert r.status_code == 409 and ids["trackstar"] in r.json()["detail"]
    assert statuses() == before
    r = client.post(
        url,
        json={
            "ids": [ids["track"], ids["none"]],
            "status": "risk_accepted",
            "note": "isolated network",
        },
        headers=a.headers,
    )
    assert r.status_code == 200 and r.json()["changed"] == [ids["track"], ids["none"]]
    after = statuses()
    assert after["track"] == after["none"] == "risk_accepted"


def test_isolation_for_every_role(client: TestClient, world: World, two: dict[str, Any]) -> None:
    a, b, ids = two["a"], two["b"], two["ids"]
    mine = ids["act_soon"]
    # operator B: never sees A's exposure, by id, list, filter, bulk, status or metrics
    assert client.get(f"/api/v1/exposures/{mine}", headers=b.headers).status_code == 404
    assert _all(client, b) == [ids["b"]]
    assert _all(client, b, f"&asset={two['asset_a']}") == []
    r = client.post(
        f"/api/v1/exposures/{mine}/status", json={"status": "in_progress"}, headers=b.headers
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/exposures/bulk-status",
        json={"ids": [mine], "status": "in_progress"},
        headers=b.headers,
    )
    assert r.status_code == 404
    m = client.get("/api/v1/inventory/metrics", headers=b.headers).json()
    assert m["open_total"] == 1 and m["open_by_sector"] == {"water": 1}
    # A's viewer sees but may not change (403)
    viewer = world.member(a.org_id, OrgKind.operator, Role.viewer)
    assert client.get(f"/api/v1/exposures/{mine}", headers=viewer.headers).status_code == 200
    r = client.post(
        f"/api/v1/exposures/{mine}/status", json={"status": "in_progress"}, headers=viewer.headers
    )
    assert r.status_code == 403
    # a coordinator sees all, and a coordinator member may change a status
    coord_org = world.org(OrgKind.coordinator)
    coord = world.member(coord_org, OrgKind.coordinator, Role.member)
    assert set(_all(client, coord)) == set(ids.values())
    r = client.post(
        f"/api/v1/exposures/{mine}/status", json={"status": "in_progress"}, headers=coord.headers
    )
    assert r.status_code == 200
    assert client.get("/api/v1/inventory/metrics", headers=coord.headers).json()["open_total"] == 8
    # vendor, lab, evaluator: nothing at all
    for kind in (OrgKind.vendor, OrgKind.lab, OrgKind.evaluator):
        other = world.member(world.org(kind), kind, Role.admin)
        assert _all(client, other) == [], kind
        assert client.get(f"/api/v1/exposures/{mine}", headers=other.headers).status_code == 404
        r = client.post(
            "/api/v1/exposures/bulk-status",
            json={"ids": [mine], "status": "remediated"},
            headers=other.headers,
        )
        assert r.status_code == 404
        assert (
            client.get("/api/v1/inventory/metrics", headers=other.headers).json()["open_total"] == 0
        )
    # anonymous
    assert client.get("/api/v1/exposures").status_code == 401
    assert client.get(f"/api/v1/exposures/{mine}").status_code == 401


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()

    def run(token: str | None, *args: str) -> Any:
        return runner.invoke(app, ["inventory", *args], env={"CLEARINGHOUSE_TOKEN": token})

    yield run


def test_cli_exposures_json_is_a_list_of_exactly_the_contract_keys(
    cli: Any, two: dict[str, Any]
) -> None:
    a = two["a"]
    result = cli(a.token, "exposures", "--asset", two["asset_a"], "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 7
    keys = {
        "vuln_id",
        "aliases",
        "purl",
        "version",
        "severity",
        "kev",
        "ssvc",
        "status",
        "due_at",
        "fixed_in",
    }
    assert all(set(r) == keys for r in rows)
    assert rows[0]["ssvc"] == "Act" and rows[0]["aliases"] == ["CVE-2026-0100", "PYSEC-2026-100"]
    # operator B's token: A's asset gives an empty list
    other = cli(two["b"].token, "exposures", "--asset", two["asset_a"], "--json")
    assert json.loads(other.stdout) == []
    moved = cli(
        a.token, "exposure-status", two["ids"]["track"], "in_progress", "--note", "on it", "--json"
    )
    assert moved.exit_code == 0 and json.loads(moved.stdout)["status"] == "in_progress"
    metrics = cli(a.token, "metrics", "--json")
    assert json.loads(metrics.stdout)["open_total"] == 7
    refused = cli(two["b"].token, "exposure-status", two["ids"]["track"], "remediated")
    assert refused.exit_code == 1
