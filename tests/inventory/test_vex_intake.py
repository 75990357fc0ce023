"""VEX intake: our own VEX exports (OpenVEX, CycloneDX, CSAF) read back to the same statuses;
an operator's not_affected statement closes exactly the exposures it names (record by id or
alias, component by purl and version), with the document's digest and the statement as
evidence; invalid documents, other operators and viewers change nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.inventory.models import Exposure, ExposureEvent
from clearinghouse.inventory.vex_intake import parse
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.vex import (
    Justification,
    Product,
    ProductStatus,
    VexStatus,
    to_csaf_vex,
    to_cyclonedx_vex,
    to_openvex,
    vex_subject,
)
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.inventory.support import operator_with_asset
from tests.support.record_shapes import corpus
from tests.support.vulns import golden
from tests.support.world import World

J = Justification
# CycloneDX maps two of the five labels to one (code_not_present): these three go both ways.
CDX_EXACT = (
    J.vulnerable_code_not_in_execute_path,
    J.vulnerable_code_cannot_be_controlled_by_adversary,
    J.inline_mitigations_already_exist,
)


def _extras(justifications: tuple[Justification, ...]) -> list[ProductStatus]:
    return [
        ProductStatus(
            Product(name=f"acme-{n}", purl=f"pkg:pypi/acme-{n}", version=f"3.{n}"),
            VexStatus.not_affected,
            j,
        )
        for n, j in enumerate(justifications)
    ]


def _key(s: ProductStatus) -> tuple[Any, ...]:
    return (s.product.purl, s.product.version, s.product.vers, s.status, s.justification)


def _expected(subject: Any, cdx: bool = False) -> set[tuple[Any, ...]]:
    keys = {_key(s) for s in subject.statuses if s.product.purl}
    if cdx:  # CycloneDX has one label (code_not_present) for these two
        lossy = {J.component_not_present: J.vulnerable_code_not_present}
        keys = {(*k[:4], lossy.get(k[4], k[4])) for k in keys}
    return keys


def _read(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        _key(st.status)
        for st in parse(json.dumps(doc).encode()).statements
        if st.status.product.purl
    }


RECORDS = {name: record for name, (record, _) in corpus().items()}
RECORDS["golden"] = golden("CH-2099-00007.osv.json")


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_our_exports_read_back_to_the_same_statuses(name: str) -> None:
    record = RECORDS[name]
    subject = vex_subject(record, _extras(tuple(J)))
    assert _read(to_openvex(subject)) == _expected(subject)
    assert _read(to_csaf_vex(subject, to_csaf(record))) == _expected(subject)
    cdx_subject = vex_subject(record, _extras(CDX_EXACT))
    assert _read(to_cyclonedx_vex(cdx_subject)) == _expected(cdx_subject, cdx=True)


def test_each_format_names_its_vulnerability_by_id_and_aliases() -> None:
    record = golden("CH-2099-00007.osv.json")
    subject = vex_subject(record, _extras((J.component_not_present,)))
    for doc in (to_openvex(subject), to_cyclonedx_vex(subject)):
        names = {n for st in parse(json.dumps(doc).encode()).statements for n in st.names}
        assert (subject.cve or subject.id) in names


def _openvex(name: str, purl: str, status: str = "not_affected", **extra: Any) -> bytes:
    statement = {"vulnerability": {"name": name}, "products": [{"@id": purl}], "status": status}
    statement.update(extra)
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://operator.example/vex/1",
            "author": "operator",
            "timestamp": "2026-01-01T00:00:00Z",
            "version": 1,
            "statements": [statement],
        }
    ).encode()


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    member, asset = operator_with_asset(world)
    other, other_asset = operator_with_asset(world)
    with world.services.db.transaction() as s:
        v = import_record(s, osv_doc("PYSEC-2026-400", aliases=("CVE-2026-0400",)))
        w = import_record(s, osv_doc("PYSEC-2026-401"))
        ids = {
            "hit": exposure(s, asset, v, purl="pkg:pypi/tinyparse@1.5"),
            "other_version": exposure(s, asset, v, purl="pkg:pypi/tinyparse@1.6"),
            "other_vuln": exposure(s, asset, w, purl="pkg:pypi/tinyparse@1.5"),
            "other_org": exposure(s, other_asset, v, purl="pkg:pypi/tinyparse@1.5"),
        }
        for eid, e in ((i, s.get(Exposure, i)) for i in ids.values()):
            assert e is not None and eid
            e.version = e.purl.rsplit("@", 1)[1] if e.purl else None
    return {"member": member, "asset": asset, "other": other, "ids": ids}


def _statuses(world: World, ids: dict[str, str]) -> dict[str, str]:
    with world.services.db.transaction() as s:
        return {k: s.get(Exposure, v).status for k, v in ids.items()}  # type: ignore[union-attr]


def test_an_operators_openvex_closes_exactly_what_it_names(
    client: TestClient, world: World, setup: dict[str, Any]
) -> None:
    doc = _openvex("CVE-2026-0400", "pkg:pypi/tinyparse@1.5", justification="component_not_present")
    r = client.post(
        f"/api/v1/assets/{setup['asset']}/vex",
        files={"file": ("vex.json", doc)},
        headers=setup["member"].headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == [setup["ids"]["hit"]] and r.json()["format"] == "openvex"
    assert _statuses(world, setup["ids"]) == {
        "hit": "not_affected",
        "other_version": "open",
        "other_vuln": "open",
        "other_org": "open",
    }
    with world.services.db.transaction() as s:
        e = s.get(Exposure, setup["ids"]["hit"])
        assert e is not None and e.justification == "component_not_present"
        event = s.scalars(
            select(ExposureEvent).where(
                ExposureEvent.exposure_id == e.id, ExposureEvent.to_status == "not_affected"
            )
        ).one()
        assert event.actor == setup["member"].user_id
        assert event.evidence["format"] == "openvex"
        assert event.evidence["sha256"] == hashlib.sha256(doc).hexdigest()
        assert event.evidence["statement"]["statement"]["justification"] == "component_not_present"


def test_an_unversioned_product_covers_every_version_and_affected_says_nothing(
    client: TestClient, world: World, setup: dict[str, Any]
) -> None:
    url = f"/api/v1/assets/{setup['asset']}/vex"
    headers = setup["member"].headers
    affected = _openvex("PYSEC-2026-400", "pkg:pypi/tinyparse", "affected", action_statement="x")
    assert (
        client.post(url, files={"file": ("v.json", affected)}, headers=headers).json()["applied"]
        == []
    )
    # not_affected with only an impact statement: no justification of the five, skipped
    bare = _openvex("PYSEC-2026-400", "pkg:pypi/tinyparse", impact_statement="not reachable")
    body = client.post(url, files={"file": ("v.json", bare)}, headers=headers).json()
    assert body["applied"] == [] and body["skipped"][0]["statement"] == 0
    doc = _openvex(
        "PYSEC-2026-400", "pkg:pypi/tinyparse", justification="inline_mitigations_already_exist"
    )
    body = client.post(url, files={"file": ("v.json", doc)}, headers=headers).json()
    assert sorted(body["applied"]) == sorted([setup["ids"]["hit"], setup["ids"]["other_version"]])


def test_csaf_and_cyclonedx_vex_apply_too(world: World, setup: dict[str, Any]) -> None:
    from clearinghouse.accounts.tokens import authenticate
    from clearinghouse.inventory.vex_intake import apply_to_asset

    record = golden("CH-2099-00007.osv.json")
    extra = ProductStatus(
        Product(name="tinyparse", purl="pkg:pypi/tinyparse", version="1.5"),
        VexStatus.not_affected,
        J.vulnerable_code_not_in_execute_path,
    )
    # the golden record stands for ours: name it by our record's alias
    record = {**record, "aliases": ["CVE-2026-0400"]}
    subject = vex_subject(record, [extra])
    with world.services.db.transaction() as s:
        p = authenticate(s, setup["member"].token)
        doc = json.dumps(to_cyclonedx_vex(subject)).encode()
        result = apply_to_asset(s, p, setup["asset"], doc)
        assert result.format == "cyclonedx" and result.applied == [setup["ids"]["hit"]]
    with world.services.db.transaction() as s:
        e = s.get(Exposure, setup["ids"]["hit"])
        assert e is not None
        e.status, e.justification = "open", None  # back, to read the same claim as CSAF
    with world.services.db.transaction() as s:
        p = authenticate(s, setup["member"].token)
        doc = json.dumps(to_csaf_vex(subject, to_csaf(record))).encode()
        result = apply_to_asset(s, p, setup["asset"], doc)
        assert result.format == "csaf" and result.applied == [setup["ids"]["hit"]]


BAD = {
    "not json": b"\xff\xfe not json",
    "a list": b"[]",
    "unknown format": b'{"hello": "world"}',
    "openvex bad status": _openvex("CVE-2026-0400", "pkg:pypi/tinyparse@1.5", "fine"),
    "openvex no statements": json.dumps(
        {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a"}
    ).encode(),
    "cyclonedx bad state": json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "vulnerabilities": [{"id": "CVE-2026-0400", "analysis": {"state": "whatever"}}],
        }
    ).encode(),
    "cyclonedx 1.2": b'{"bomFormat": "CycloneDX", "specVersion": "1.2", "version": 1}',
    "csaf not vex": json.dumps(
        {"document": {"csaf_version": "2.0", "category": "csaf_base"}}
    ).encode(),
    "csaf invalid": json.dumps(
        {"document": {"csaf_version": "2.0", "category": "csaf_vex"}}
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_documents_are_refused_and_change_nothing(
    client: TestClient, world: World, setup: dict[str, Any], name: str
) -> None:
    before = _statuses(world, setup["ids"])
    r = client.post(
        f"/api/v1/assets/{setup['asset']}/vex",
        files={"file": ("vex.json", BAD[name])},
        headers=setup["member"].headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "vex_invalid", r.text
    assert _statuses(world, setup["ids"]) == before


def test_other_operators_viewers_and_other_kinds_change_nothing(
    client: TestClient, world: World, setup: dict[str, Any]
) -> None:
    doc = _openvex("CVE-2026-0400", "pkg:pypi/tinyparse", justification="component_not_present")
    url = f"/api/v1/assets/{setup['asset']}/vex"
    viewer = world.member(setup["member"].org_id, OrgKind.operator, Role.viewer)
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin)
    for who, status in ((setup["other"], 404), (vendor, 404), (viewer, 403)):
        r = client.post(url, files={"file": ("v.json", doc)}, headers=who.headers)
        assert r.status_code == status
    assert set(_statuses(world, setup["ids"]).values()) == {"open"}
