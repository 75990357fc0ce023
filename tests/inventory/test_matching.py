"""Matching: the engine against the one OSV evaluator on version edge cases; a new SBOM opens
exposures for public records, and a later SBOM without the vulnerable version closes them as
remediated with the evidence; a record imported later opens an exposure through
`inventory.match_vuln` reading only its own package's components; re-running changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.inventory.matching import apply
from clearinghouse.inventory.matching.candidates import Stats
from clearinghouse.inventory.matching.engine import AdvisoryIndex, Hit
from clearinghouse.inventory.models import Exposure, ExposureEvent
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert
from tests.inventory.support import cyclonedx, drain, operator_with_asset
from tests.support.world import World


def _entry(eco: str, name: str, *ranges: list[dict[str, str]], versions=(), rtype="ECOSYSTEM"):
    return {
        "package": {"ecosystem": eco, "name": name},
        "ranges": [{"type": rtype, "events": events} for events in ranges],
        "versions": list(versions),
    }


INTRO0 = {"introduced": "0"}
TWO_BRANCHES = _entry(  # 1.x fixed in 1.4.2, 2.x in 2.1.0
    "PyPI",
    "a",
    [{"introduced": "1.0"}, {"fixed": "1.4.2"}],
    [{"introduced": "2.0"}, {"fixed": "2.1.0"}],
)
CASES: list[tuple[str, dict[str, Any], str, Hit | None]] = [
    # (what, entry, version, expected hit)
    ("fixed excludes", _entry("PyPI", "a", [INTRO0, {"fixed": "2.0"}]), "2.0", None),
    ("below fixed", _entry("PyPI", "a", [INTRO0, {"fixed": "2.0"}]), "1.9", Hit("V", "2.0")),
    (
        "pre-release below fix",
        _entry("PyPI", "a", [INTRO0, {"fixed": "2.0"}]),
        "2.0rc1",
        Hit("V", "2.0"),
    ),
    ("epoch above", _entry("PyPI", "a", [INTRO0, {"fixed": "2.0"}]), "1!1.0", None),
    (
        "local version",
        _entry("PyPI", "a", [INTRO0, {"fixed": "2.0"}]),
        "1.5+ubuntu1",
        Hit("V", "2.0"),
    ),
    (
        "last_affected in",
        _entry("PyPI", "a", [INTRO0, {"last_affected": "1.4"}]),
        "1.4",
        Hit("V", None),
    ),
    ("last_affected out", _entry("PyPI", "a", [INTRO0, {"last_affected": "1.4"}]), "1.4.1", None),
    (
        "several ranges: fix on its branch",
        TWO_BRANCHES,
        "1.3",
        Hit("V", "1.4.2"),
    ),
    (
        "several ranges: second branch",
        TWO_BRANCHES,
        "2.0.5",
        Hit("V", "2.1.0"),
    ),
    (
        "several ranges: between branches",
        TWO_BRANCHES,
        "1.5",
        None,
    ),
    (
        "go v prefix",
        _entry("Go", "m", [INTRO0, {"fixed": "1.2.0"}], rtype="SEMVER"),
        "v1.1.9",
        Hit("V", "1.2.0"),
    ),
    (
        "go pseudo-version below fix",
        _entry("Go", "m", [INTRO0, {"fixed": "1.2.0"}], rtype="SEMVER"),
        "v0.0.0-20200101000000-abcdef123456",
        Hit("V", "1.2.0"),
    ),
    ("go listed version with v", _entry("Go", "m", versions=["1.0.0"]), "v1.0.0", Hit("V", None)),
    (
        "semver pre-release",
        _entry("crates.io", "c", [INTRO0, {"fixed": "1.0.0"}]),
        "1.0.0-alpha.1",
        Hit("V", "1.0.0"),
    ),
]


@pytest.mark.parametrize(("what", "entry", "version", "expected"), CASES, ids=[c[0] for c in CASES])
def test_version_edge_cases(
    what: str, entry: dict[str, Any], version: str, expected: Hit | None
) -> None:
    index = AdvisoryIndex([("V", {"affected": [entry]})])
    pkg = entry["package"]
    got = index.match(pkg["ecosystem"], pkg["name"], version)
    assert got == ((expected,) if expected else ())


def test_each_distinct_version_is_evaluated_once() -> None:
    index = AdvisoryIndex([("V", {"affected": [_entry("PyPI", "a", [INTRO0, {"fixed": "2"}])]})])
    for _ in range(1000):
        index.match("PyPI", "a", "1.0")
    index.match("PyPI", "a", "3.0")
    assert index.evaluations == 2


def _import(world: World, doc: dict[str, Any]) -> str:
    with world.services.db.transaction() as s:
        upsert(s, canonical(doc))
        vuln_id = s.scalar(select(Vulnerability.id).where(Vulnerability.source_id == doc["id"]))
        assert vuln_id is not None
        return vuln_id


def _doc(rid: str, name: str, fixed: str) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [INTRO0, {"fixed": fixed}]}],
            }
        ],
    }


def _exposures(world: World, asset: str) -> list[Exposure]:
    with world.services.db.transaction() as s:
        rows = list(s.scalars(select(Exposure).where(Exposure.asset_id == asset)))
        s.expunge_all()
        return rows


def test_sbom_match_opens_and_a_fixed_sbom_remediates_with_evidence(world: World) -> None:
    _, asset = operator_with_asset(world)
    vuln = _import(world, _doc("PYSEC-2026-1", "tinyparse", "2.0"))
    svc = world.services
    with svc.db.transaction() as s:
        upload(
            s,
            Principal.system(),
            svc.settings,
            asset,
            cyclonedx("pkg:pypi/tinyparse@1.5", "pkg:pypi/other@1"),
        )
    drain(svc)
    (exp,) = _exposures(world, asset)
    assert (exp.vuln_id, exp.status, exp.fixed_in, exp.version) == (vuln, "open", "2.0", "1.5")
    # prioritised in the matching job's own transaction: never seen without a decision
    assert exp.ssvc in {"Act", "Attend", "Track*", "Track"} and exp.ssvc_inputs
    assert exp.due_at is not None and exp.epss is None  # no EPSS score imported
    # the same vulnerable version again: carried over, not duplicated
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx("pkg:pypi/tinyparse@1.5"))
    drain(svc)
    (same,) = _exposures(world, asset)
    assert same.id == exp.id and same.status == "open" and same.component_id != exp.component_id
    with svc.db.transaction() as s:
        fixed = upload(
            s, Principal.system(), svc.settings, asset, cyclonedx("pkg:pypi/tinyparse@2.0")
        )
    drain(svc)
    (closed,) = _exposures(world, asset)
    assert closed.status == "remediated" and closed.closed_at is not None
    with svc.db.transaction() as s:
        event = s.scalars(
            select(ExposureEvent).where(
                ExposureEvent.exposure_id == closed.id, ExposureEvent.to_status == "remediated"
            )
        ).one()
        assert event.evidence == {"sbom_id": fixed.id, "version": "2.0"} and event.actor == "system"
    # re-running the job changes nothing
    with svc.db.transaction() as s:
        assert apply.match_sbom(s, fixed.id)["opened"] == 0
    assert len(_exposures(world, asset)) == 1


def test_a_record_imported_later_is_matched_without_a_rescan(world: World) -> None:
    _, asset = operator_with_asset(world)
    svc = world.services
    purls = [f"pkg:pypi/filler{n}@1.0" for n in range(30)]
    with svc.db.transaction() as s:
        upload(
            s,
            Principal.system(),
            svc.settings,
            asset,
            cyclonedx("pkg:pypi/late@1.0", "pkg:pypi/late@3.0", *purls),
        )
    drain(svc)
    assert _exposures(world, asset) == []
    vuln = _import(world, _doc("PYSEC-2026-2", "late", "2.0"))
    stats = Stats()
    with svc.db.transaction() as s:
        result = apply.match_vuln(s, vuln, stats)
    assert result["opened"] == 1
    # two distinct versions of its one package evaluated; one component read; none of the 30
    assert (stats.versions_evaluated, stats.components_read) == (2, 1)
    (exp,) = _exposures(world, asset)
    assert exp.vuln_id == vuln and exp.version == "1.0"
    with svc.db.transaction() as s:
        assert apply.match_vuln(s, vuln)["opened"] == 0  # idempotent


def test_an_embargoed_record_opens_nothing_for_an_operator(world: World) -> None:
    _, asset = operator_with_asset(world)
    svc = world.services
    doc = _doc("PYSEC-2026-3", "secret", "2.0")
    doc["database_specific"] = {"tlp": "AMBER"}
    vuln = _import(world, doc)
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx("pkg:pypi/secret@1.0"))
    drain(svc)
    with svc.db.transaction() as s:
        apply.match_vuln(s, vuln)
    with svc.db.transaction() as s:
        v = s.get(Vulnerability, vuln)
        assert v is not None and v.tlp != "CLEAR"  # not public: the operator may not see it
    assert _exposures(world, asset) == []
