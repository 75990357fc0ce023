"""Adversarial review of a vendor's VEX for its case (round 16, helper R3).

Each test plays a hostile or careless vendor against `POST /api/v1/cases/{id}/vex`
(`inventory.vex_intake.apply_for_case`): statements about another case's record, an alias
shared with a record outside the case, purl spellings, a CSAF product tree whose product is a
version range, replays, oversized and deeply nested documents, and what the vendor can read
back about operators."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.inventory.matching.apply import enqueue_match_vuln
from clearinghouse.inventory.models import Exposure, ExposureEvent
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.inventory.vex_intake import MAX_BYTES
from clearinghouse.vulns.models import VulnerabilityAlias
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.support import cyclonedx, drain, operator_with_asset
from tests.inventory.test_early_warning import Scene, _notify, _ok, build_scene
from tests.inventory.test_vex_vendor import _openvex, _post, _st, _status
from tests.support.world import World


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def _events(world: World, asset: str) -> list[tuple[str, str]]:
    with world.services.db.transaction() as s:
        return [
            (ev.to_status, ev.actor)
            for ev in s.scalars(
                select(ExposureEvent)
                .join(Exposure, Exposure.id == ExposureEvent.exposure_id)
                .where(Exposure.asset_id == asset)
                .order_by(ExposureEvent.at, ExposureEvent.id)
            )
        ]


def test_a_vendor_cannot_speak_for_another_cases_record(
    client: TestClient, world: World, scene: Scene
) -> None:
    """Vendor A names case B's (embargoed) record in its own case, and posts to case B's URL:
    skipped as not its case's record (the same reason as for an id that does not exist), and
    404; case B's early warning stays open."""
    a, b = scene, build_scene(client, world)
    _notify(client, a)
    _notify(client, b)
    assert _status(world, b.inside_asset) == {b.vuln_id: "open"}
    doc = _openvex(_st(b.vuln_id, "pkg:pypi/tinyparse"), _st("CH-2099-99999", "pkg:pypi/tinyparse"))
    body = _ok(_post(client, a.vendor, a.case_id, doc), 200)
    assert body["accepted"] == []
    reasons = [s["reason"] for s in body["skipped"]]
    assert reasons == ["not a record of this case"] * 2  # unknown and foreign read the same
    assert _post(client, a.vendor, b.case_id, doc).status_code == 404
    assert _status(world, b.inside_asset) == {b.vuln_id: "open"}
    assert _status(world, a.inside_asset) == {a.vuln_id: "open"}


def test_an_alias_shared_with_a_record_outside_the_case_closes_only_the_case_record(
    client: TestClient, world: World, scene: Scene
) -> None:
    """The statement names a CVE that is an alias of the case's record AND of a public record
    of no case (same package): only the case record's exposure closes."""
    sc = scene
    cve = "CVE-2099-31337"
    with world.services.db.transaction() as s:
        s.add(VulnerabilityAlias(vuln_id=sc.vuln_id, alias=cve))
        outside = import_record(s, osv_doc("PYSEC-2099-31337", "tinyparse", "9.0", aliases=(cve,)))
        enqueue_match_vuln(s, [outside])
    drain(world.services)  # the public record is matched against every operator
    _notify(client, sc)
    before = _status(world, sc.inside_asset)
    assert before == {sc.vuln_id: "open", outside: "open"}, before
    body = _ok(_post(client, sc.vendor, sc.case_id, _openvex(_st(cve, "pkg:pypi/tinyparse"))), 200)
    assert body["accepted"] == [0]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "not_affected", outside: "open"}
    assert _status(world, sc.outside_asset) == {outside: "open"}


@pytest.mark.parametrize(
    ("purl", "closes", "accepted"),
    [
        ("pkg:PYPI/TinyParse", True, True),  # purl type and PyPI name are case-insensitive
        ("pkg:pypi/tiny%70arse?repository_url=https://pypi.org/simple#src", True, True),
        ("pkg:pypi/tinyparse@2.4.0", True, True),  # the operator's version
        ("pkg:pypi/tinyparse@9.9", False, True),  # another version: nothing of ours
        ("pkg:pypi/tinyparse-evil", False, False),  # another package
        ("pkg:generic/tinyparse", False, False),  # another ecosystem
        ("pkg:npm/tinyparse", False, False),
        ("https://vendor.example/tinyparse", False, False),  # an IRI, not a purl
    ],
)
def test_purl_spellings_close_exactly_the_case_package(
    client: TestClient, world: World, scene: Scene, purl: str, closes: bool, accepted: bool
) -> None:
    sc = scene
    _notify(client, sc)
    body = _ok(_post(client, sc.vendor, sc.case_id, _openvex(_st(sc.vuln_id, purl))), 200)
    assert body["accepted"] == ([0] if accepted else []), body
    want = "not_affected" if closes else "open"
    assert _status(world, sc.inside_asset) == {sc.vuln_id: want}


def test_a_pep503_spelling_of_the_case_package_closes_what_it_accepts(
    client: TestClient, world: World
) -> None:
    """The record names `zope.interface`; the operator's SBOM says `pkg:pypi/zope.interface`;
    the vendor writes `pkg:pypi/zope-interface` (the same PyPI project, PEP 503). The
    statement is accepted as the case's package, so it must close the exposure it covers."""
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    _, asset = operator_with_asset(world)
    with world.services.db.transaction() as s:
        vuln_id = import_record(s, osv_doc("PYSEC-2099-5030", "zope.interface", "6.0"))
        upload(
            s,
            Principal.system(),
            world.services.settings,
            asset,
            cyclonedx("pkg:pypi/zope.interface@5.0"),
        )
    drain(world.services)
    assert _status(world, asset) == {vuln_id: "open"}
    case = _ok(
        client.post(
            "/api/v1/cases",
            headers=coordinator.headers,
            json={"vuln_ids": [vuln_id], "title": "zope", "tlp": "AMBER"},
        )
    )
    _ok(
        client.post(
            f"/api/v1/cases/{case['id']}/participants",
            headers=coordinator.headers,
            json={"org_id": vendor.org_id, "role": "vendor"},
        )
    )
    doc = _openvex(_st(vuln_id, "pkg:pypi/zope-interface"))
    assert _ok(_post(client, vendor, case["id"], doc), 200)["accepted"] == [0]
    assert _status(world, asset) == {vuln_id: "not_affected"}


def _csaf_vex(vuln_id: str, category: str, name: str, purl: str) -> bytes:
    """A CSAF VEX saying the product under one branch (`category` `name`) is not affected."""
    product = {"name": f"tinyparse {name}", "product_id": "P1"}
    product["product_identification_helper"] = {"purl": purl}  # type: ignore[assignment]
    tree = {
        "branches": [
            {
                "category": "vendor",
                "name": "Tiny",
                "branches": [
                    {
                        "category": "product_name",
                        "name": "tinyparse",
                        "branches": [{"category": category, "name": name, "product": product}],
                    }
                ],
            }
        ]
    }
    when = "2026-01-01T00:00:00Z"
    return json.dumps(
        {
            "document": {
                "category": "csaf_vex",
                "csaf_version": "2.0",
                "title": "tinyparse",
                "lang": "en",
                "publisher": {
                    "category": "vendor",
                    "name": "Tiny",
                    "namespace": "https://tiny.example",
                },
                "notes": [{"category": "summary", "text": "x"}],
                "tracking": {
                    "id": "T-1",
                    "status": "final",
                    "version": "1",
                    "initial_release_date": when,
                    "current_release_date": when,
                    "revision_history": [{"date": when, "number": "1", "summary": "x"}],
                },
            },
            "product_tree": tree,
            "vulnerabilities": [
                {
                    "ids": [{"system_name": "Clearinghouse", "text": vuln_id}],
                    "notes": [{"category": "description", "text": "x"}],
                    "product_status": {"known_not_affected": ["P1"]},
                    "flags": [
                        {"label": "vulnerable_code_not_in_execute_path", "product_ids": ["P1"]}
                    ],
                }
            ],
        }
    ).encode()


@pytest.mark.parametrize("name", [">=3.0", "vers:pypi/>=3.0"])
def test_a_csaf_version_range_product_is_not_read_as_every_version(
    client: TestClient, world: World, scene: Scene, name: str
) -> None:
    """A CSAF product under a `product_version_range` branch ("tinyparse >=3.0 is not
    affected", a valid CSAF range whether written as vers or as a free-text specifier) says
    nothing about 2.4.0: it is skipped as a range, and the operator's 2.4.0 stays open."""
    sc = scene
    _notify(client, sc)
    doc = _csaf_vex(sc.vuln_id, "product_version_range", name, "pkg:pypi/tinyparse")
    body = _ok(_post(client, sc.vendor, sc.case_id, doc), 200)
    assert body["format"] == "csaf"
    assert body["accepted"] == [] and body["skipped"] == [
        {"statement": 0, "reason": "a version range is not evaluated"}
    ], body
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}


def test_a_csaf_product_version_closes_that_version_only(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    other = _csaf_vex(sc.vuln_id, "product_version", "3.0", "pkg:pypi/tinyparse")
    assert _ok(_post(client, sc.vendor, sc.case_id, other), 200)["accepted"] == [0]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}
    ours = _csaf_vex(sc.vuln_id, "product_version", "2.4.0", "pkg:pypi/tinyparse")
    assert _ok(_post(client, sc.vendor, sc.case_id, ours), 200)["accepted"] == [0]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "not_affected"}


def test_replaying_a_document_changes_nothing_more(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    doc = _openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse"))
    first = _ok(_post(client, sc.vendor, sc.case_id, doc), 200)
    second = _ok(_post(client, sc.vendor, sc.case_id, doc), 200)
    assert first == second  # the answer does not tell the vendor whether anything changed
    assert _events(world, sc.inside_asset).count(("not_affected", sc.vendor.user_id)) == 1


def test_a_replayed_document_does_not_undo_the_operators_reopening(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    doc = _openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse"))
    _ok(_post(client, sc.vendor, sc.case_id, doc), 200)
    with world.services.db.transaction() as s:
        (eid,) = s.scalars(select(Exposure.id).where(Exposure.asset_id == sc.inside_asset))
    reopened = client.post(
        f"/api/v1/exposures/{eid}/status",
        headers=sc.inside.headers,
        json={"status": "open", "note": "we do call the vulnerable parser"},
    )
    assert _ok(reopened, 200)["status"] == "open"
    _ok(_post(client, sc.vendor, sc.case_id, doc), 200)
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}


def test_a_vendor_reads_nothing_of_the_exposures_it_closed(
    client: TestClient, world: World, scene: Scene
) -> None:
    """After its VEX closed the group's early warning, the vendor (member and admin) cannot
    list, read or change that exposure: 404 and empty lists, as for any stranger."""
    sc = scene
    _notify(client, sc)
    _ok(_post(client, sc.vendor, sc.case_id, _openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse"))), 200)
    with world.services.db.transaction() as s:
        (eid,) = s.scalars(select(Exposure.id).where(Exposure.asset_id == sc.inside_asset))
    admin = world.member(sc.vendor.org_id, OrgKind.vendor, Role.admin)
    for who in (sc.vendor, admin):
        assert client.get(f"/api/v1/exposures/{eid}", headers=who.headers).status_code == 404
        listed = _ok(client.get("/api/v1/exposures", headers=who.headers), 200)
        assert listed["items"] == []
        moved = client.post(
            f"/api/v1/exposures/{eid}/status",
            headers=who.headers,
            json={"status": "open", "note": "x"},
        )
        assert moved.status_code == 404
        assert eid not in client.get(f"/api/v1/cases/{sc.case_id}", headers=who.headers).text


def test_a_vendor_of_a_closed_case_still_speaks_for_it(
    client: TestClient, world: World, scene: Scene
) -> None:
    """Documented: any state. A case closed unpublished leaves its early warnings in place;
    the vendor's statement still closes them (the statement concerns its package)."""
    sc = scene
    _notify(client, sc)
    _ok(
        client.post(
            f"/api/v1/cases/{sc.case_id}/transition",
            headers=sc.coordinator.headers,
            json={"to": "closed"},
        ),
        200,
    )
    body = _ok(
        _post(client, sc.vendor, sc.case_id, _openvex(_st(sc.vuln_id, "pkg:pypi/tinyparse"))),
        200,
    )
    assert body["accepted"] == [0]
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "not_affected"}


def _deep(depth: int) -> bytes:
    """An OpenVEX-looking document with `depth` nested objects (written as text: the encoder
    would recurse)."""
    inner = '{"x": ' * depth + "1" + "}" * depth
    head = '{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [], "junk": '
    return (head + inner + "}").encode()


@pytest.mark.parametrize("depth", [50, 400, 900, 5000, 100_000])
def test_a_deeply_nested_document_is_refused_cleanly(
    client: TestClient, scene: Scene, depth: int
) -> None:
    r = _post(client, scene.vendor, scene.case_id, _deep(depth))
    assert r.status_code == 422 and r.json()["code"] == "vex_invalid", r.text[:300]


def test_an_oversized_document_is_refused_before_reading(client: TestClient, scene: Scene) -> None:
    filler = b" " * (MAX_BYTES + 1)
    r = _post(client, scene.vendor, scene.case_id, b"{" + filler + b"}")
    assert r.status_code in (413, 422) and r.json()["code"] == "vex_too_large", r.text[:300]


def test_many_statements_are_answered_per_statement(
    client: TestClient, world: World, scene: Scene
) -> None:
    sc = scene
    _notify(client, sc)
    sts = [_st(f"CH-2099-{n:05d}", "pkg:pypi/tinyparse") for n in range(3000)]
    body = _ok(_post(client, sc.vendor, sc.case_id, _openvex(*sts)), 200)
    assert body["statements"] == 3000 and len(body["skipped"]) == 3000
    assert _status(world, sc.inside_asset) == {sc.vuln_id: "open"}
