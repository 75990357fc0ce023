"""Cases over HTTP, against the real database: the contract, who sees what (every role, the
privileged ones included), TLP on messages and artifacts, the deadline, and the audit trail."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.models import KevEntry, VulnerabilityAlias
from tests.support.vulns import audit_count, submit
from tests.support.world import Member, World


class Cast:
    def __init__(self, world: World) -> None:
        def m(kind: OrgKind, role: Role = Role.member) -> Member:
            return world.member(world.org(kind), kind, role)

        self.coordinator = m(OrgKind.coordinator)
        self.other_coordinator = m(OrgKind.coordinator, Role.admin)  # another coordinator org
        self.reporter = m(OrgKind.lab)
        self.vendor = m(OrgKind.vendor)
        self.vendor_viewer = world.member(self.vendor.org_id, OrgKind.vendor, Role.viewer)
        self.other_vendor = m(OrgKind.vendor, Role.admin)  # a vendor of another case
        self.operator = m(OrgKind.operator)
        self.outside_operator = m(OrgKind.operator, Role.admin)  # not in the sharing group
        self.outside_lab = m(OrgKind.lab, Role.admin)
        self.outside_evaluator = m(OrgKind.evaluator, Role.admin)
        self.other_reporter = m(OrgKind.evaluator)  # the reporter of another case


def _post(client: TestClient, who: Member, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, headers=who.headers, json=body)


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


def _case(client: TestClient, cast: Cast, **over: Any) -> dict[str, Any]:
    vuln = submit(client, cast.reporter)["vuln_id"]
    body = {"vuln_ids": [vuln], "title": "heap overflow in demo", "tlp": "AMBER", **over}
    r = _post(client, cast.coordinator, "/api/v1/cases", body)
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()
    for org, role in ((cast.vendor.org_id, "vendor"), (cast.operator.org_id, "operator_group")):
        r = _post(
            client,
            cast.coordinator,
            f"/api/v1/cases/{case['id']}/participants",
            {"org_id": org, "role": role},
        )
        assert r.status_code == 201, r.text
    return case


def _other_case(client: TestClient, cast: Cast) -> str:
    vuln = submit(client, cast.other_reporter)["vuln_id"]
    r = _post(client, cast.coordinator, "/api/v1/cases", {"vuln_ids": [vuln], "title": "other"})
    cid = r.json()["id"]
    _post(
        client,
        cast.coordinator,
        f"/api/v1/cases/{cid}/participants",
        {"org_id": cast.other_vendor.org_id, "role": "vendor"},
    )
    return str(cid)


def test_contract_create_and_refusals(client: TestClient, cast: Cast) -> None:
    case = _case(client, cast)
    assert {"id", "state", "deadline"} <= case.keys()
    assert case["state"] == "open" and case["deadline"] is None and case["view"] == "full"
    # the record's reporting organisation joined as reporter, the coordinator as coordinator
    roles = {p["org_id"]: p["role"] for p in case["participants"]}
    assert roles[cast.reporter.org_id] == "reporter"
    assert roles[cast.coordinator.org_id] == "coordinator"
    # adversaries: an unknown id, another organisation's embargoed record, a non-coordinator
    r = _post(
        client, cast.coordinator, "/api/v1/cases", {"vuln_ids": ["CH-1999-99999"], "title": "x y z"}
    )
    assert r.status_code == 422 and r.json()["code"] == "vuln_unknown"
    foreign = submit(client, cast.other_reporter)["vuln_id"]
    r = _post(client, cast.reporter, "/api/v1/cases", {"vuln_ids": [foreign], "title": "mine now"})
    assert r.status_code == 403
    r = _post(
        client,
        cast.coordinator,
        f"/api/v1/cases/{case['id']}/participants",
        {"org_id": cast.vendor.org_id, "role": "vendor"},
    )
    assert r.status_code == 409 and r.json()["code"] == "participant_exists"
    r = _post(
        client,
        cast.coordinator,
        f"/api/v1/cases/{case['id']}/participants",
        {"org_id": "org_nonexistent", "role": "vendor"},
    )
    assert r.status_code == 422 and r.json()["code"] == "org_unknown"
    r = _post(
        client, cast.coordinator, f"/api/v1/cases/{case['id']}/transition", {"to": "published"}
    )
    assert r.status_code == 409 and r.json()["code"] == "manual_publication"


def test_who_sees_what(client: TestClient, cast: Cast) -> None:
    case = _case(client, cast)
    cid = case["id"]
    other = _other_case(client, cast)
    url = f"/api/v1/cases/{cid}"
    for who in (
        cast.coordinator,
        cast.other_coordinator,
        cast.reporter,
        cast.vendor,
        cast.vendor_viewer,
    ):
        r = client.get(url, headers=who.headers)
        assert r.status_code == 200 and r.json()["view"] == "full", r.text
    r = client.get(url, headers=cast.operator.headers)
    ew = r.json()
    assert r.status_code == 200 and ew["view"] == "early_warning"
    assert ew["participants"] is None and ew["vendor_statuses"] is None
    assert ew["affected"][0]["affected"][0]["name"]  # what is affected
    for outsider in (
        cast.other_vendor,
        cast.outside_operator,
        cast.outside_lab,
        cast.outside_evaluator,
        cast.other_reporter,
    ):
        for path in ("", "/messages", "/timeline", "/artifacts"):
            r = client.get(url + path, headers=outsider.headers)
            assert r.status_code == 404, (path, r.text)
            assert r.json()["code"] == "not_found"
        # they list only the other case, where they take part (its vendor, its reporter)
        listed_by = client.get("/api/v1/cases", headers=outsider.headers).json()["items"]
        in_other = outsider in (cast.other_vendor, cast.other_reporter)
        assert {c["id"] for c in listed_by} == ({other} if in_other else set())
    assert client.get(url).status_code == 401
    # listings in SQL: a vendor lists its own case only, coordinators all
    assert {
        c["id"] for c in client.get("/api/v1/cases", headers=cast.vendor.headers).json()["items"]
    } == {cid}
    listed = {
        c["id"]
        for c in client.get("/api/v1/cases", headers=cast.other_coordinator.headers).json()["items"]
    }
    assert {cid, other} <= listed
    # the operators' group never gets artifacts, not even the list
    r = client.get(url + "/artifacts", headers=cast.operator.headers)
    assert r.status_code == 403


def test_vendor_status_drives_state_and_deadline(
    client: TestClient, cast: Cast, services: Services
) -> None:
    cid = _case(client, cast)["id"]
    base = f"/api/v1/cases/{cid}"
    status = {"status": "affected", "statement": "we reproduce it"}
    # only the vendor posts its status: not the reporter, the operators, another vendor
    assert _post(client, cast.reporter, base + "/vendor-status", status).status_code == 403
    assert _post(client, cast.operator, base + "/vendor-status", status).status_code == 403
    assert _post(client, cast.vendor_viewer, base + "/vendor-status", status).status_code == 403
    assert _post(client, cast.other_vendor, base + "/vendor-status", status).status_code == 404
    r = _post(client, cast.coordinator, base + "/transition", {"to": "vendors_notified"})
    assert r.status_code == 200, r.text
    notified = r.json()
    assert notified["deadline_detail"]["rule"] == "standard"
    assert notified["deadline"] is not None
    r = _post(client, cast.vendor, base + "/vendor-status", status)
    assert r.status_code == 200, r.text
    assert client.get(base, headers=cast.vendor.headers).json()["state"] == "fix_pending"
    bad = {"status": "affected", "justification": "component_not_present"}
    r = _post(client, cast.vendor, base + "/vendor-status", bad)
    assert r.status_code == 422 and r.json()["code"] == "not_a_vendor_status"
    r = _post(client, cast.vendor, base + "/vendor-status", {"status": "fixed"})
    assert r.status_code == 422 and r.json()["code"] == "fix_evidence_missing"
    # extension: coordinators only, with a reason, audited
    adj = {"days": 10, "reason": "vendor asked for time"}
    assert _post(client, cast.vendor, base + "/deadline", adj).status_code == 403
    before = audit_count(services)
    r = _post(client, cast.coordinator, base + "/deadline", adj)
    assert r.status_code == 200 and r.json()["deadline_detail"]["adjusted_days"] == 10
    assert audit_count(services) == before + 1
    fixed = {"status": "fixed", "fixed_versions": ["pkg:pypi/demo@1.1"], "fix_commits": ["abcdef1"]}
    # no recipe to verify the fix against: a coordinator overrides (tests/coordination/test_fixes)
    override = {"reason": "verified by hand"}
    r = _post(
        client, cast.coordinator, f"{base}/vendors/{cast.vendor.org_id}/fix-override", override
    )
    assert r.status_code == 200, r.text
    r = _post(client, cast.vendor, base + "/vendor-status", fixed)
    assert r.status_code == 200, r.text
    case = client.get(base, headers=cast.coordinator.headers).json()
    assert case["state"] == "fixed" and case["deadline_detail"]["rule"] == "all_fixed"
    assert case["vendor_statuses"][0]["fixed_versions"] == ["pkg:pypi/demo@1.1"]


def test_a_kev_listing_mid_embargo_shortens_the_deadline(
    client: TestClient, cast: Cast, services: Services
) -> None:
    case = _case(client, cast)
    _post(
        client,
        cast.coordinator,
        f"/api/v1/cases/{case['id']}/transition",
        {"to": "vendors_notified"},
    )
    today = utcnow().date()
    with services.db.transaction() as s:
        s.add(VulnerabilityAlias(alias="CVE-2026-4242", vuln_id=case["vuln_ids"][0]))
        s.add(KevEntry(cve_id="CVE-2026-4242", date_added=today, digest="0" * 64, cwes=[]))
    got = client.get(f"/api/v1/cases/{case['id']}", headers=cast.operator.headers).json()
    assert got["deadline_detail"]["rule"] == "exploited"
    assert got["deadline"][:10] == (today + timedelta(days=7)).isoformat()
    assert got["affected"][0]["known_exploited"] is True


def test_messages_carry_tlp_and_never_leak(client: TestClient, cast: Cast) -> None:
    cid = _case(client, cast)["id"]
    base = f"/api/v1/cases/{cid}/messages"
    r = _post(client, cast.vendor, base, {"body": "looser", "tlp": "GREEN"})
    assert r.status_code == 422 and r.json()["code"] == "tlp_looser_than_case"
    r = _post(
        client, cast.vendor, base, {"body": "to all", "recipient_org_ids": [cast.reporter.org_id]}
    )
    assert r.status_code == 422 and r.json()["code"] == "recipients_need_red"
    r = _post(
        client,
        cast.coordinator,
        base,
        {"body": "red to vendor", "tlp": "RED", "recipient_org_ids": [cast.operator.org_id]},
    )
    assert r.status_code == 422 and r.json()["code"] == "recipient_not_participant"
    assert _post(client, cast.vendor, base, {"body": "amber from vendor"}).status_code == 201
    red = {"body": "red to vendor", "tlp": "RED", "recipient_org_ids": [cast.vendor.org_id]}
    assert _post(client, cast.coordinator, base, red).status_code == 201
    assert _post(client, cast.operator, base, {"body": "hi"}).status_code == 403

    def bodies(who: Member, path: str = base) -> set[str]:
        r = client.get(path, headers=who.headers)
        assert r.status_code == 200, r.text
        return {m.get("body", m.get("kind")) for m in r.json()["items"]}

    assert bodies(cast.vendor) == {"amber from vendor", "red to vendor"}
    assert bodies(cast.coordinator) == {"amber from vendor", "red to vendor"}
    assert bodies(cast.reporter) == {"amber from vendor"}  # not a RED recipient
    assert bodies(cast.operator) == set()  # AMBER is above the sharing group's clearance
    # the timeline follows the same rules: the RED message's event is not shown to the reporter
    events = client.get(f"/api/v1/cases/{cid}/timeline", headers=cast.reporter.headers).json()
    posted = [e for e in events["items"] if e["kind"] == "message_posted"]
    assert len(posted) == 1 and posted[0]["tlp"] == "AMBER"
    assert (
        client.get(f"/api/v1/cases/{cid}/timeline", headers=cast.operator.headers).json()["items"]
        == []
    )


def test_artifacts_are_sealed_and_only_for_full_participants(
    client: TestClient, cast: Cast, services: Services
) -> None:
    cid = _case(client, cast)["id"]
    base = f"/api/v1/cases/{cid}/artifacts"
    secret = b"PoC: AAAA" * 10
    body = {
        "filename": "poc.bin",
        "kind": "poc",
        "content_base64": base64.b64encode(secret).decode(),
    }
    r = _post(client, cast.reporter, base, body)
    assert r.status_code == 201, r.text
    art = r.json()
    assert _post(client, cast.operator, base, body).status_code == 403
    r = client.get(f"{base}/{art['id']}/content", headers=cast.vendor.headers)
    assert r.status_code == 200 and r.content == secret
    assert r.headers["content-type"] == "application/octet-stream"
    for who, code in ((cast.operator, 403), (cast.outside_lab, 404), (cast.other_vendor, 404)):
        assert client.get(f"{base}/{art['id']}/content", headers=who.headers).status_code == code
    # sealed at rest: the plaintext is nowhere in the database's blob and sealed-value rows
    with services.db.transaction() as s:
        from clearinghouse.storage.vault import SealedValue

        assert all(secret not in (v.ciphertext or b"") for v in s.scalars(select(SealedValue)))


def test_a_refused_change_leaves_nothing_behind(
    client: TestClient, cast: Cast, services: Services
) -> None:
    """The adversary: a shortening that would put the deadline in the past. The adjustment row
    is written before the check; the refusal must roll it back with its timeline and audit
    events (one transaction per change)."""
    from clearinghouse.coordination.models import DeadlineAdjustment, TimelineEvent

    cid = _case(client, cast)["id"]
    base = f"/api/v1/cases/{cid}"
    _post(client, cast.coordinator, base + "/transition", {"to": "vendors_notified"})

    def counts() -> tuple[int, int, int]:
        with services.db.transaction() as s:
            adjustments = len(list(s.scalars(select(DeadlineAdjustment))))
            events = len(list(s.scalars(select(TimelineEvent))))
        return adjustments, events, audit_count(services)

    before = counts()
    r = _post(client, cast.coordinator, base + "/deadline", {"days": -365, "reason": "now!"})
    assert r.status_code == 422 and r.json()["code"] == "deadline_in_past"
    assert counts() == before
    r = _post(client, cast.coordinator, base + "/deadline", {"days": -30, "reason": "exploited"})
    assert r.status_code == 200
    assert r.json()["deadline_detail"]["adjusted_days"] == -30
    after = counts()
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1 and after[2] == before[2] + 1


def test_vendor_status_hooks_run_in_the_transaction(
    client: TestClient, cast: Cast, services: Services
) -> None:
    """The seam for fix verification and notifications: a hook sees the change, and a hook
    that refuses rolls the whole change back (status, timeline, audit)."""
    from clearinghouse.coordination import participants
    from clearinghouse.core.errors import Conflict

    cid = _case(client, cast)["id"]
    seen: list[tuple[str, str]] = []

    def watch(session: Any, p: Any, case: Any, row: Any, previous: str) -> None:
        seen.append((previous, row.status))

    def refuse(session: Any, p: Any, case: Any, row: Any, previous: str) -> None:
        if row.status == "fixed":
            raise Conflict("the patch still reproduces", code="fix_not_verified")

    participants.VENDOR_STATUS_HOOKS[:] = [watch, refuse]
    try:
        url = f"/api/v1/cases/{cid}/vendor-status"
        assert _post(client, cast.vendor, url, {"status": "affected"}).status_code == 200
        before = audit_count(services)
        fixed = {"status": "fixed", "fix_commits": ["abcdef1"]}
        r = _post(client, cast.vendor, url, fixed)
        assert r.status_code == 409 and r.json()["code"] == "fix_not_verified"
    finally:
        participants.VENDOR_STATUS_HOOKS.clear()
    assert seen == [("unknown", "affected"), ("affected", "fixed")]
    assert audit_count(services) == before
    case = client.get(f"/api/v1/cases/{cid}", headers=cast.vendor.headers).json()
    assert case["vendor_statuses"][0]["status"] == "affected"
