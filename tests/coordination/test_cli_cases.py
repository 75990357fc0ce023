"""`clearinghouse cases ...`: the real command line in this process over the test's database,
acting as tokens under the same policy as HTTP, `--json` on every command; and the writes a
closed case and a read-only token refuse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from tests.support.vulns import submit
from tests.support.world import World


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()

    def run(token: str, *args: str) -> Any:
        r = runner.invoke(app, ["cases", *args, "--json"], env={"CLEARINGHOUSE_TOKEN": token})
        return r.exit_code, (json.loads(r.stdout) if r.exit_code == 0 else r.stderr)

    yield run


def test_cli_walks_a_case(cli: Any, client: TestClient, world: World, tmp_path: Path) -> None:
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    outsider = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin)
    reporter = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    vuln = submit(client, reporter)["vuln_id"]
    code, case = cli(coordinator.token, "create", vuln, "--title", "cli case", "--tlp", "AMBER")
    assert code == 0 and case["state"] == "open", case
    cid = case["id"]
    code, _ = cli(coordinator.token, "add-participant", cid, vendor.org_id, "--role", "vendor")
    assert code == 0
    code, moved = cli(coordinator.token, "transition", cid, "--to", "vendors_notified")
    assert code == 0 and moved["deadline_detail"]["rule"] == "standard"
    code, status = cli(
        vendor.token,
        "vendor-status",
        cid,
        "--status",
        "not_affected",
        "--justification",
        "component_not_present",
    )
    assert code == 0 and status["status"] == "not_affected"
    code, adjusted = cli(coordinator.token, "deadline", cid, "--days", "3", "--reason", "holiday")
    assert code == 0 and adjusted["deadline_detail"]["adjusted_days"] == 3
    assert cli(vendor.token, "message", cid, "--body", "thanks")[0] == 0
    assert [m["body"] for m in cli(vendor.token, "messages", cid)[1]["items"]] == ["thanks"]
    poc = tmp_path / "poc.bin"
    poc.write_bytes(b"crash")
    code, art = cli(reporter.token, "upload", cid, str(poc), "--kind", "poc")
    assert code == 0, art
    out = tmp_path / "got.bin"
    code, got = cli(vendor.token, "download", cid, art["id"], "--output", str(out))
    assert code == 0 and out.read_bytes() == b"crash" and got["sha256"] == art["sha256"]
    assert [a["id"] for a in cli(vendor.token, "artifacts", cid)[1]["items"]] == [art["id"]]
    kinds = [e["kind"] for e in cli(coordinator.token, "timeline", cid)[1]["items"]]
    assert kinds[0] == "case_opened" and "vendor_status_changed" in kinds
    assert [c["id"] for c in cli(vendor.token, "list")[1]["items"]] == [cid]
    assert cli(vendor.token, "show", cid)[1]["view"] == "full"
    # the adversary: a vendor of no case, through the CLI: the same 404 as over HTTP
    code, err = cli(outsider.token, "show", cid)
    assert code == 1 and "not_found" in err
    assert cli(outsider.token, "list")[1]["items"] == []


def test_closed_case_and_read_only_token_refuse_writes(client: TestClient, world: World) -> None:
    coord_org = world.org(OrgKind.coordinator)
    coordinator = world.member(coord_org, OrgKind.coordinator, Role.member)
    read_only = world.member(coord_org, OrgKind.coordinator, Role.admin, scopes=["read"])
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    vuln = submit(client, world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member))
    h = coordinator.headers
    cid = client.post(
        "/api/v1/cases", headers=h, json={"vuln_ids": [vuln["vuln_id"]], "title": "to close"}
    ).json()["id"]
    client.post(
        f"/api/v1/cases/{cid}/participants",
        headers=h,
        json={"org_id": vendor.org_id, "role": "vendor"},
    )
    r = client.post(f"/api/v1/cases/{cid}/messages", headers=read_only.headers, json={"body": "x"})
    assert r.status_code == 403 and r.json()["code"] == "scope_missing"
    assert client.get(f"/api/v1/cases/{cid}", headers=read_only.headers).status_code == 200
    r = client.post(f"/api/v1/cases/{cid}/deadline", headers=h, json={"days": 3, "reason": "why"})
    assert r.status_code == 409 and r.json()["code"] == "not_notified"
    r = client.post(f"/api/v1/cases/{cid}/transition", headers=h, json={"to": "closed"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    for path, body in (
        ("messages", {"body": "late"}),
        ("participants", {"org_id": coord_org, "role": "reporter"}),
    ):
        r = client.post(f"/api/v1/cases/{cid}/{path}", headers=h, json=body)
        assert r.status_code == 409 and r.json()["code"] == "case_closed", r.text
    r = client.post(
        f"/api/v1/cases/{cid}/vendor-status", headers=vendor.headers, json={"status": "affected"}
    )
    assert r.status_code == 409 and r.json()["code"] == "case_closed"
    r = client.post(f"/api/v1/cases/{cid}/transition", headers=h, json={"to": "vendors_notified"})
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
