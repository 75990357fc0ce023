"""A vendor's VEX for its coordination case (issue 15 part 4), with a bounded authority.

A vendor participant of a case asserts `not_affected` for the case's records and only for the
packages those records name: each applicable statement closes every operator's open exposure
it covers (never a risk-accepted or remediated one), with the vendor as the actor and the
case and document as evidence. A statement for another record, or for a package the case does
not name (a vendor trying to close another vendor's package), is skipped and closes nothing.
The answer, the case timeline and the audit event never reveal operators or exposures; an
operator reopens what it disagrees with. Coordinators are not vendors: 403."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.exposures import apply_status
from clearinghouse.inventory.models import Exposure, ExposureEvent, ExposureStatus
from clearinghouse.inventory.sboms.intake import upload
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.support import cyclonedx
from tests.inventory.test_early_warning import (
    Scene,
    _notify,
    _ok,
    _operator,
    build_scene,
    publish,
)
from tests.support.world import Member, World

OTHER = "PYSEC-2099-7707"  # a public record of another vendor's package, in no case


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def _openvex(*statements: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://vendor.example/vex/1",
            "author": "vendor",
            "timestamp": "2026-01-01T00:00:00Z",
            "version": 1,
            "statements": list(statements),
        }
    ).encode()


def _st(name: str, purl: str, status: str = "not_affected", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "vulnerability": {"name": name},
        "products": [{"@id": purl}],
        "status": status,
        **extra,
    }
    if status == "not_affected" and "justification" not in extra:
        st["justification"] = "vulnerable_code_not_in_execute_path"
    return {k: v for k, v in st.items() if v is not None}


def _post(client: TestClient, who: Member, case_id: str, doc: bytes) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/vex", headers=who.headers, files={"file": ("vex.json", doc)}
    )


def _status(world: World, asset: str) -> dict[str, str]:
    with world.services.db.transaction() as s:
        return {
            e.vuln_id: e.status
            for e in s.scalars(select(Exposure).where(Exposure.asset_id == asset))
        }


def _only(world: World, asset: str) -> str:
    with world.services.db.transaction() as s:
        (eid,) = s.scalars(select(Exposure.id).where(Exposure.asset_id == asset))
        return eid


def _published(client: TestClient, world: World, sc: Scene) -> dict[str, tuple[Member, str]]:
    """Two more operators with the case's package (to be risk-accepted and remediated), one
    with another vendor's package; then the case is published and everyone matched."""
    with world.services.db.transaction() as s:
        import_record(s, osv_doc(OTHER, "otherpkg"))
    ops = {name: _operator(world) for name in ("accepted", "remediated")}
    other = _operator(world)
    with world.services.db.transaction() as s:
        upload(
            s,
            Principal.system(),
            world.services.settings,
            other[1],
            cyclonedx("pkg:pypi/tinyparse@2.4.0", "pkg:pypi/otherpkg@1.0"),
        )
    ops["other"] = other
    _notify(client, sc)
    publish(client, world, sc)
    for name, to in (("accepted", ExposureStatus.risk_accepted), ("remediated", None)):
        with world.services.db.transaction() as s:
            e = s.get(Exposure, _only(world, ops[name][1]))
            assert e is not None
            apply_status(s, e, to or ExposureStatus.remediated, actor="operator", note="ours")
    return ops


def test_a_vendor_closes_its_case_packages_open_exposures_and_nothing_else(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    ops = _published(client, world, sc)
    other_asset = ops["other"][1]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}
    assert _status(world, sc.outside_asset) == {sc.vuln_id: "open"}
    before_other = _status(world, other_asset)
    assert set(before_other.values()) == {"open"} and len(before_other) == 2
    doc = _openvex(
        _st(sc.vuln_id, "pkg:pypi/tinyparse"),  # 0: the case's record and package
        _st(sc.vuln_id, "pkg:pypi/otherpkg"),  # 1: the case's record, not its package
        _st(OTHER, "pkg:pypi/otherpkg"),  # 2: another vendor's record
        _st(sc.vuln_id, "pkg:pypi/tinyparse", status="affected", action_statement="update"),
        _st(sc.vuln_id, "pkg:pypi/tinyparse", justification=None, impact_statement="unused"),
    )
    r = _post(client, sc.vendor, sc.case_id, doc)
    body = _ok(r, 200)
    assert set(body) == {"case_id", "format", "sha256", "statements", "accepted", "skipped"}
    assert body["accepted"] == [0] and body["statements"] == 5
    reasons = {s["statement"]: s["reason"] for s in body["skipped"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert "not a product of this case" in reasons[1]
    assert "not a record of this case" in reasons[2]
    # both operators' open exposures are closed; accepted risk and remediated are not
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "not_affected"}
    assert _status(world, sc.outside_asset) == {sc.vuln_id: "not_affected"}
    assert _status(world, ops["accepted"][1]) == {sc.vuln_id: "risk_accepted"}
    assert _status(world, ops["remediated"][1]) == {sc.vuln_id: "remediated"}
    # the other vendor's package: untouched; the case's package on the same asset: closed
    after_other = _status(world, other_asset)
    assert after_other[sc.vuln_id] == "not_affected"
    assert [v for k, v in after_other.items() if k != sc.vuln_id] == ["open"]
    eid = _only(world, sc.inside_asset)
    with world.services.db.transaction() as s:
        (event,) = s.scalars(
            select(ExposureEvent).where(
                ExposureEvent.exposure_id == eid, ExposureEvent.to_status == "not_affected"
            )
        )
        assert event.actor == sc.vendor.user_id
        assert event.evidence["asserted_by"] == "vendor"
        assert event.evidence["vendor_org_id"] == sc.vendor.org_id
        assert event.evidence["case_id"] == sc.case_id
        assert event.evidence["format"] == "openvex"
        assert event.evidence["sha256"] == body["sha256"]
        assert event.evidence["statement"]["statement"]["vulnerability"] == {"name": sc.vuln_id}
        audits = [
            a.data
            for a in s.scalars(
                select(AuditEvent).where(
                    AuditEvent.tag == AuditTag.INVENTORY_EXPOSURE_VEX.value,
                    AuditEvent.subject_id == sc.case_id,
                )
            )
        ]
        exposure_ids = list(s.scalars(select(Exposure.id)))
    assert len(audits) == 1
    # confidentiality: nothing the vendor reads names an operator or an exposure
    timeline = _ok(
        client.get(f"/api/v1/cases/{sc.case_id}/timeline", headers=sc.vendor.headers), 200
    )
    vex_events = [e for e in timeline["items"] if e["kind"] == "vendor_vex"]
    assert len(vex_events) == 1
    operator_orgs = [sc.inside.org_id, sc.outside.org_id, *(m.org_id for m, _ in ops.values())]
    assets = [sc.inside_asset, sc.outside_asset, *(a for _, a in ops.values())]
    for text in (r.text, json.dumps(vex_events), json.dumps(audits)):
        for secret in (*operator_orgs, *assets, *exposure_ids):
            assert secret not in text
    # the operator disagrees and reopens
    reopened = client.post(
        f"/api/v1/exposures/{eid}/status",
        headers=sc.inside.headers,
        json={"status": "open", "note": "our build links the vulnerable parser"},
    )
    assert _ok(reopened, 200)["status"] == "open"


def test_who_may_post_a_case_vex(client: TestClient, world: World, scene: Scene) -> None:
    """Only a member of a vendor organisation of the case; a coordinator is no vendor (403),
    nor is the sharing group's operator (403) or the reporting lab (403); a vendor of no part
    in the case learns nothing of it (404); a vendor viewer may not (403)."""
    sc = scene
    _notify(client, sc)
    doc = _openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse"))
    stranger = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin)
    viewer = world.member(sc.vendor.org_id, OrgKind.vendor, Role.viewer)
    for who, code in (
        (sc.coordinator, 403),
        (sc.inside, 403),
        (sc.lab, 403),
        (viewer, 403),
        (stranger, 404),
        (sc.outside, 404),
    ):
        r = _post(client, who, sc.case_id, doc)
        assert r.status_code == code, (who, r.text)
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}  # the early warning
    assert _post(client, sc.vendor, "case_nope", doc).status_code == 404
    bad = _post(client, sc.vendor, sc.case_id, b"{not json")
    assert bad.status_code == 422 and bad.json()["code"] == "vex_invalid"
    # under embargo, the vendor's statement closes the group's early warning too
    assert _ok(_post(client, sc.vendor, sc.case_id, doc), 200)["accepted"] == [0]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "not_affected"}


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`clearinghouse cases ... --json` in this process: (exit code, stdout or stderr JSON)."""
    monkeypatch.setattr(common, "_services", services)

    def run(token: str, *args: str) -> tuple[int, Any]:
        r = CliRunner().invoke(app, ["cases", *args, "--json"], env={"CLEARINGHOUSE_TOKEN": token})
        return r.exit_code, json.loads(r.stdout if r.exit_code == 0 else r.stderr)

    return run


def test_the_cli_posts_a_case_vex(
    client: TestClient, world: World, scene: Scene, cli: Any, tmp_path: Path
) -> None:
    sc = scene
    _notify(client, sc)
    path = tmp_path / "vex.json"
    path.write_bytes(_openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse")))
    code, out = cli(sc.coordinator.token, "vex", sc.case_id, str(path))
    assert code == 1 and out["error"]["code"] == "permission_denied", out
    code, out = cli(sc.vendor.token, "vex", sc.case_id, str(path))
    assert code == 0 and out["accepted"] == [0] and out["case_id"] == sc.case_id, out
    code, out = cli(sc.vendor.token, "vex", sc.case_id, str(tmp_path / "missing.json"))
    assert code != 0
