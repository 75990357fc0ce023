"""Adversarial review of KEV reprioritisation through `inventory.sync_vulns` (round 16, helper
R3): an embargoed record's KEV listing must not reach an operator outside its case through the
priority of a public sibling record; the sync's overlap window; an entry removed from the
catalog."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.models import Exposure, VulnSync
from clearinghouse.vulns.intake.kev import import_kev
from clearinghouse.vulns.models import KevEntry, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.visibility import is_public
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.test_prioritise import _asset, _matched
from tests.inventory.test_sync_kev import EXPLOITED, _kev_file, _sync
from tests.support.vulns import submit
from tests.support.world import World

SECRET_CVE = "CVE-2099-47001"


def test_an_embargoed_records_kev_listing_does_not_reprioritise_a_public_sibling(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """A case holds a public record (matched for every operator) and an embargoed one whose
    CVE gets KEV-listed (exploited in the wild before disclosure). An operator outside the case
    must learn nothing of the embargoed record: the public sibling's exposure may not turn
    exploitation-active "from a coordination case" (a jump to Act, a new due date, an input
    that names a case) while the embargo holds."""
    svc = world.services
    _sync(world)
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    secret = submit(client, lab, title="Heap overflow in siblib")["vuln_id"]
    with svc.db.transaction() as s:
        public = import_record(s, osv_doc("PYSEC-2099-4701", "siblib"))
        s.add(VulnerabilityAlias(vuln_id=secret, alias=SECRET_CVE))
        record = s.get(Vulnerability, secret)
        assert record is not None and not is_public(record, utcnow())
    r = client.post(
        "/api/v1/cases",
        headers=coordinator.headers,
        json={"vuln_ids": [public, secret], "title": "public and embargoed", "tlp": "AMBER"},
    )
    assert r.status_code == 201, r.text
    outside = _matched(world, _asset(world), "pkg:pypi/siblib@1.0")
    assert outside.vuln_id == public
    before = dict(outside.ssvc_inputs or {})
    assert before["exploitation"]["value"] == "none"
    _sync(world)
    due = (utcnow() + timedelta(days=1)).date()
    import_kev(svc.db, Principal.system(), _kev_file(tmp_path, SECRET_CVE, due.isoformat()))
    _sync(world)
    with svc.db.transaction() as s:
        e = s.get(Exposure, outside.id)
        assert e is not None
        assert (e.ssvc_inputs or {})["exploitation"] == before["exploitation"]
        assert (e.ssvc, e.due_at, e.kev) == (outside.ssvc, outside.due_at, False)


def test_a_kev_entry_stamped_late_within_the_overlap_is_still_read(
    world: World, tmp_path: Path
) -> None:
    """An import transaction that committed after the sync's run, with a `changed_at` a
    little before it (within the overlap): the next run reprioritises its exposures."""
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2099-4702", "kevlib", aliases=(EXPLOITED,)))
    hit = _matched(world, _asset(world), "pkg:pypi/kevlib@1.0")
    _sync(world)
    due = (utcnow() + timedelta(days=1)).date()
    import_kev(svc.db, Principal.system(), _kev_file(tmp_path, EXPLOITED, due.isoformat()))
    with svc.db.transaction() as s:
        state = s.get(VulnSync, 1)
        entry = s.get(KevEntry, EXPLOITED)
        assert state is not None and entry is not None
        entry.changed_at = state.checked_at - timedelta(minutes=3)  # as if it committed late
    with svc.db.transaction() as s:
        kev = s.get(KevEntry, EXPLOITED)
        stamped = s.get(VulnSync, 1)
        assert kev is not None and stamped is not None
        kev_changed_at = kev.changed_at
    assert kev_changed_at is not None and kev_changed_at < stamped.checked_at
    _sync(world)
    with svc.db.transaction() as s:
        e = s.get(Exposure, hit.id)
        assert e is not None and e.kev is True


def _catalog(tmp_path: Path, *cves: str, whole: bool = False) -> Path:
    path = tmp_path / "catalog.json"
    entries = [
        {
            "cveID": cve,
            "vendorProject": "Example",
            "product": "kevlib",
            "vulnerabilityName": "kevlib remote code execution",
            "dateAdded": utcnow().date().isoformat(),
            "dueDate": (utcnow() + timedelta(days=14)).date().isoformat(),
            "knownRansomwareCampaignUse": "Unknown",
            "requiredAction": "Apply the update.",
        }
        for cve in cves
    ]
    doc: dict[str, object] = {"title": "KEV", "vulnerabilities": entries}
    if whole:  # as CISA publishes it: the whole catalog, with its version and count
        doc |= {"catalogVersion": "2026.11.30", "count": len(entries)}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_an_entry_removed_from_the_catalog_un_kevs_its_exposures(
    world: World, tmp_path: Path
) -> None:
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2099-4703", "kevlib", aliases=(EXPLOITED,)))
    import_kev(svc.db, Principal.system(), _catalog(tmp_path, EXPLOITED, "CVE-2099-47999"))
    hit = _matched(world, _asset(world), "pkg:pypi/kevlib@1.0")
    assert hit.kev is True
    _sync(world)
    # an extract without the catalog's version and count only adds: nothing is removed
    extract = import_kev(svc.db, Principal.system(), _catalog(tmp_path, "CVE-2099-47999"))
    assert extract.removed == 0
    _sync(world)
    with svc.db.transaction() as s:
        assert s.scalars(select(Exposure.kev).where(Exposure.id == hit.id)).one() is True
    # the whole catalog without it: the entry is removed, and the sync un-KEVs the exposure
    whole = _catalog(tmp_path, "CVE-2099-47999", whole=True)
    assert import_kev(svc.db, Principal.system(), whole).removed == 1
    _sync(world)
    with svc.db.transaction() as s:
        e = s.scalars(select(Exposure).where(Exposure.id == hit.id)).one()
        assert e.kev is False
