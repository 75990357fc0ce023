"""The CNA flow against the CVE Services stand-in (tests/support/cve_services.py): reserve,
publish, reject; ids we did not reserve; embargo; first refusal; configuration; hostile input.
Real database (SQLite and PostgreSQL), real HTTP server on 127.0.0.1, cvelib as the client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cvelib.cve_api import CveRecord
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.coordination.cna.client import CveServices
from clearinghouse.coordination.cna.errors import CveServicesRefused
from clearinghouse.coordination.cna.models import CnaReferral, CveIdReservation
from clearinghouse.core.errors import OutboundRefused
from clearinghouse.core.net import OutboundPolicy
from tests.support.cve_services import CveServicesState, configure, cve_services
from tests.support.vulns import report_body
from tests.support.world import Member, World

KEY = "cve-services-test-key-0123456789"


@pytest.fixture
def stand_in(services: Services) -> Iterator[tuple[str, CveServicesState]]:
    with cve_services() as (url, state):
        configure(services.settings, url)
        yield url, state


@pytest.fixture
def coordinator(world: World) -> Member:
    return world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)


def _report(client: TestClient, world: World, **over: Any) -> str:
    reporter = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
    r = client.post("/api/v1/reports", json=report_body(**over), headers=reporter.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["vuln_id"])


def _make_public(client: TestClient, who: Member, vuln_id: str) -> None:
    for change in ({"status": "triaged"}, {"status": "validated"}):
        assert client.post(f"/api/v1/vulns/{vuln_id}/triage", json=change, headers=who.headers)
    r = client.post(
        f"/api/v1/vulns/{vuln_id}/triage",
        json={"status": "published", "tlp": "CLEAR", "lift_embargo": True},
        headers=who.headers,
    )
    assert r.status_code == 200, r.text


def _events(services: Services, tag: str) -> list[AuditEvent]:
    with services.db.transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def _posts(state: CveServicesState, suffix: str) -> list[dict[str, str]]:
    return [s for s in state.seen if s["method"] == "POST" and s["path"].endswith(suffix)]


def test_reserve_publish_reject(
    client: TestClient,
    services: Services,
    world: World,
    coordinator: Member,
    stand_in: tuple[str, CveServicesState],
) -> None:
    _, state = stand_in
    h = coordinator.headers
    # Two spare ids, then one for a record.
    r = client.post("/api/v1/cve-ids", json={"count": 2, "year": 2026}, headers=h)
    assert r.status_code == 201, r.text
    spare = [i["cve_id"] for i in r.json()]
    assert all(state.ids[i]["owning_cna"] == "clearinghouse" for i in spare)
    assert {i["state"] for i in r.json()} == {"reserved"}

    vuln_id = _report(client, world)
    r = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=h)
    assert r.status_code == 201, r.text
    (ours,) = r.json()
    assert ours["vuln_id"] == vuln_id and ours["scope_cna"] is None
    cve_id = ours["cve_id"]
    # The reservation makes the id ours to the CVE 5 exporter: a CNA container, not an ADP one.
    doc = client.get(f"/api/v1/vulns/{vuln_id}/export?format=cve5", headers=h).json()
    assert doc["cveMetadata"]["cveId"] == cve_id and "cna" in doc["containers"]

    _make_public(client, coordinator, vuln_id)
    r = client.post(f"/api/v1/cve-ids/{cve_id}/publish", json={}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "published"
    record = state.records[cve_id]
    CveRecord.validate(record, CveRecord.Schemas.V5_SCHEMA)  # the stand-in holds a valid record
    assert record["cveMetadata"]["state"] == "PUBLISHED"
    assert record["containers"]["cna"]["title"].startswith("Out-of-bounds write")
    assert state.ids[cve_id]["state"] == "PUBLISHED"

    r = client.post(f"/api/v1/cve-ids/{spare[0]}/reject", json={"reason": "not used"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rejected"
    assert state.records[spare[0]]["cveMetadata"]["state"] == "REJECTED"
    CveRecord.validate(state.records[spare[0]], CveRecord.Schemas.V5_SCHEMA)

    # Publishing again, or rejecting a published id: refused here, before CVE Services.
    before = len(state.seen)
    again = client.post(f"/api/v1/cve-ids/{cve_id}/publish", json={}, headers=h)
    assert (again.status_code, again.json()["code"]) == (409, "cve_id_published")
    gone = client.post(f"/api/v1/cve-ids/{cve_id}/reject", json={"reason": "x" * 5}, headers=h)
    assert (gone.status_code, gone.json()["code"]) == (409, "cve_id_published")
    assert len(state.seen) == before

    listing = client.get("/api/v1/cve-ids?state=reserved", headers=h).json()
    assert [i["cve_id"] for i in listing["items"]] == [spare[1]]
    assert client.get(f"/api/v1/cve-ids/{cve_id}", headers=h).json()["vuln_id"] == vuln_id
    # Every state change audited (3 reserved, 1 published, 1 rejected).
    assert len(_events(services, "coordination:cve-id:reserve")) == 3
    assert len(_events(services, "coordination:cve-id:publish")) == 1
    assert len(_events(services, "coordination:cve-id:reject")) == 1
    # cvelib's auth headers, with our key, reached the stand-in (else 401 above).
    assert {s["org"] for s in state.seen} == {"clearinghouse"}


def test_an_id_bound_to_a_record_is_not_rejected(
    client: TestClient, world: World, coordinator: Member, stand_in: tuple[str, CveServicesState]
) -> None:
    _, state = stand_in
    vuln_id = _report(client, world)
    cve_id = client.post(
        "/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=coordinator.headers
    ).json()[0]["cve_id"]
    r = client.post(
        f"/api/v1/cve-ids/{cve_id}/reject", json={"reason": "oops"}, headers=coordinator.headers
    )
    assert (r.status_code, r.json()["code"]) == (409, "cve_id_in_use")
    assert _posts(state, "/reject") == []
    # and a second id for the same record is refused
    r = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=coordinator.headers)
    assert (r.status_code, r.json()["code"]) == (409, "vuln_has_cve_id")


def test_publishing_an_id_we_did_not_reserve_is_refused(
    client: TestClient,
    services: Services,
    world: World,
    coordinator: Member,
    stand_in: tuple[str, CveServicesState],
) -> None:
    _, state = stand_in
    state.add_org("othercna", "0b5c7a8e-1d2f-4e3a-9b4c-5d6e7f8a9b0c", "u@other", "k-other")
    (theirs,) = state.reserve_for("othercna", 2026)
    vuln_id = _report(client, world)
    _make_public(client, coordinator, vuln_id)
    h = coordinator.headers
    r = client.post(f"/api/v1/cve-ids/{theirs}/publish", json={"vuln_id": vuln_id}, headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "cve_id_not_reserved")
    r = client.post(f"/api/v1/cve-ids/{theirs}/reject", json={"reason": "not ours"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "cve_id_not_reserved")
    assert _posts(state, "/cna") == [] and _posts(state, "/reject") == []

    # A forged row claiming their id: CVE Services refuses it (their id), nothing changes here.
    from clearinghouse.core.clock import utcnow

    with services.db.transaction() as s:
        now = utcnow()
        s.add(
            CveIdReservation(
                cve_id=theirs,
                year=2026,
                state="reserved",
                vuln_id=vuln_id,
                owning_cna="clearinghouse",
                reserved_at=now,
                updated_at=now,
            )
        )
    r = client.post(f"/api/v1/cve-ids/{theirs}/publish", json={}, headers=h)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "cve_services_refused"
    assert r.json()["upstream_error"] == "CVEID_ORG_DOES_NOT_MATCH"
    assert theirs not in state.records
    with services.db.transaction() as s:
        assert s.get(CveIdReservation, theirs).state == "reserved"  # type: ignore[union-attr]


def test_an_embargoed_record_never_reaches_cve_services(
    client: TestClient, world: World, coordinator: Member, stand_in: tuple[str, CveServicesState]
) -> None:
    _, state = stand_in
    vuln_id = _report(client, world)  # new, under embargo, not public
    h = coordinator.headers
    cve_id = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=h).json()[0][
        "cve_id"
    ]
    r = client.post(f"/api/v1/cve-ids/{cve_id}/publish", json={}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "vuln_not_public")
    # published but TLP:AMBER: still not public
    for change in ({"status": "triaged"}, {"status": "validated"}):
        client.post(f"/api/v1/vulns/{vuln_id}/triage", json=change, headers=h)
    client.post(
        f"/api/v1/vulns/{vuln_id}/triage",
        json={"status": "published", "tlp": "AMBER", "lift_embargo": True},
        headers=h,
    )
    r = client.post(f"/api/v1/cve-ids/{cve_id}/publish", json={}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "vuln_not_public")
    assert _posts(state, "/cna") == []


APACHE = {"target": {"purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.0"}}


def test_first_refusal_routes_to_the_owning_cna(
    client: TestClient,
    services: Services,
    world: World,
    coordinator: Member,
    stand_in: tuple[str, CveServicesState],
) -> None:
    _, state = stand_in
    h = coordinator.headers
    vuln_id = _report(client, world, **APACHE)
    r = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "cna_scope_other")
    assert r.json()["owner_cna"] == "apache"
    assert _posts(state, "/cve-id") == []  # nothing reserved
    # The refusal recorded the referral (committed although the request failed).
    with services.db.transaction() as s:
        (referral,) = s.scalars(select(CnaReferral).where(CnaReferral.vuln_id == vuln_id))
        assert (referral.owner_cna, referral.state) == ("apache", "pending")
        referral_id = referral.id
    assert r.json()["referral_id"] == referral_id
    check = client.post("/api/v1/cna-referrals", json={"vuln_id": vuln_id}, headers=h).json()
    assert check["id"] == referral_id and check["may_reserve"] is False

    # The owner says it assigns the id itself: still refused.
    decide = f"/api/v1/cna-referrals/{referral_id}/decision"
    r = client.post(decide, json={"decision": "owner_assigns", "reason": "they will"}, headers=h)
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=h)
    assert r.json()["code"] == "cna_scope_other"
    # It declined: we reserve, and the id records whose scope it was.
    reason = "apache security team declined by mail on 2026-12-01"
    r = client.post(decide, json={"decision": "declined", "reason": reason}, headers=h)
    assert r.json()["may_reserve"] is True
    r = client.post("/api/v1/cve-ids", json={"vuln_id": vuln_id}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()[0]["scope_cna"] == "apache" and r.json()[0]["referral_id"] == referral_id
    decisions = _events(services, "coordination:cna-referral:decide")
    assert [e.data["reason"] for e in decisions][-1] == reason


def test_first_refusal_matches_by_component_not_by_prefix(
    client: TestClient, world: World, coordinator: Member, stand_in: tuple[str, CveServicesState]
) -> None:
    """`org.apachefoo` is not Apache's, nor `pipx` the PSF's `pip`: both are ours to assign."""
    h = coordinator.headers
    for purl in ("pkg:maven/org.apachefoo/x@1.0", "pkg:pypi/pipx@1.0"):
        vuln_id = _report(client, world, target={"purl": purl})
        check = client.post("/api/v1/cna-referrals", json={"vuln_id": vuln_id}, headers=h)
        assert check.json()["owner_cna"] is None, purl
    vuln_id = _report(client, world, target={"purl": "pkg:pypi/pip@24.0"})
    check = client.post("/api/v1/cna-referrals", json={"vuln_id": vuln_id}, headers=h).json()
    assert check["owner_cna"] == "PSF"


def test_unconfigured_cna(client: TestClient, world: World, coordinator: Member) -> None:
    r = client.post("/api/v1/cve-ids", json={"count": 1}, headers=coordinator.headers)
    assert (r.status_code, r.json()["code"]) == (409, "cna_not_configured")
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    r = client.post("/api/v1/cve-ids", json={"count": 1}, headers=lab.headers)
    assert r.status_code == 403  # authorisation first: nobody else learns how we are set up


def test_wrong_key_is_refused_and_never_echoed(
    client: TestClient, services: Services, coordinator: Member, stand_in: tuple[str, Any]
) -> None:
    url, state = stand_in
    configure(services.settings, url, key="a-wrong-key-987654321")
    r = client.post("/api/v1/cve-ids", json={"count": 1}, headers=coordinator.headers)
    assert (r.status_code, r.json()["code"]) == (409, "cve_services_refused")
    assert r.json()["upstream_error"] == "UNAUTHORIZED"
    assert "a-wrong-key" not in r.text and state.ids == {}


def test_the_stand_in_refuses_an_invalid_container(stand_in: tuple[str, Any]) -> None:
    """Like the real service, it validates what it is sent (cvelib's own check skipped)."""
    url, state = stand_in
    (cve_id,) = state.reserve_for("clearinghouse", 2026)
    api = CveServices(
        url=url,
        org="clearinghouse",
        user="cna@clearinghouse.example",
        api_key=KEY,
        policy=OutboundPolicy(allow_private=True),
    )
    bad = {"providerMetadata": {"orgId": "8a1c6b2e-4f3d-4c5b-9e7a-2d1f0b3c4e5a"}, "title": "x"}
    with pytest.raises(CveServicesRefused) as refused:
        api.publish(cve_id, bad, validate=False)
    assert refused.value.extra["upstream_error"] == "INVALID_JSON_SCHEMA"
    assert cve_id not in state.records


def test_calls_go_through_the_outbound_policy(stand_in: tuple[str, Any]) -> None:
    """The production policy refuses loopback: cvelib's request never leaves."""
    url, state = stand_in
    api = CveServices(
        url=url,
        org="clearinghouse",
        user="cna@clearinghouse.example",
        api_key=KEY,
        policy=OutboundPolicy(allow_private=False),
    )
    with pytest.raises(OutboundRefused):
        api.reserve(1, False, "2026")
    assert state.seen == []


HOSTILE: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/cve-ids", {"count": 0}),
    ("POST", "/api/v1/cve-ids", {"count": 10**9}),
    ("POST", "/api/v1/cve-ids", {"count": "1; drop"}),
    ("POST", "/api/v1/cve-ids", {"year": 99999}),
    ("POST", "/api/v1/cve-ids", {"vuln_id": "../../etc/passwd"}),
    ("POST", "/api/v1/cve-ids", {"vuln_id": "CH-2026-00001", "count": 3}),
    ("POST", "/api/v1/cve-ids", {"vuln_id": "nope\u0000"}),
    ("POST", "/api/v1/cve-ids", {"extra": 1}),
    ("POST", "/api/v1/cve-ids", []),
    ("GET", "/api/v1/cve-ids/CVE-2026-1%00", None),
    ("GET", "/api/v1/cve-ids/not-a-cve", None),
    ("GET", "/api/v1/cve-ids/CVE-2026-99999999", None),
    ("GET", "/api/v1/cve-ids?cursor=%ff%fe", None),
    ("GET", "/api/v1/cve-ids?state=weird", None),
    ("POST", "/api/v1/cve-ids/CVE-2026-99999999/publish", {}),
    ("POST", "/api/v1/cve-ids/CVE-2026-99999999/publish", {"vuln_id": "x" * 500}),
    ("POST", "/api/v1/cve-ids/CVE-2026-99999999/reject", {"reason": ""}),
    (
        "POST",
        "/api/v1/cve-ids/CVE-2026-99999999/reject",
        '{"reason": "\\ud800abc"}',
    ),  # raw JSON: a lone surrogate
    ("POST", "/api/v1/cna-referrals", {"vuln_id": "CH-0000-0"}),
    ("POST", "/api/v1/cna-referrals/cnaref_x/decision", {"decision": "maybe", "reason": "abc"}),
    ("POST", "/api/v1/cna-referrals/cnaref_x/decision", {"decision": "declined", "reason": "ok!"}),
]


@pytest.mark.parametrize(("method", "path", "body"), HOSTILE)
def test_hostile_input_never_5xx(
    client: TestClient,
    coordinator: Member,
    stand_in: tuple[str, CveServicesState],
    method: str,
    path: str,
    body: Any,
) -> None:
    _, state = stand_in
    if isinstance(body, str):
        headers = {**coordinator.headers, "Content-Type": "application/json"}
        r = client.request(method, path, content=body.encode(), headers=headers)
    else:
        r = client.request(
            method, path, json=body if method == "POST" else None, headers=coordinator.headers
        )
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert state.ids == {}
