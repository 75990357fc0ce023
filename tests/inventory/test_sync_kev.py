"""A KEV import reaches the standing exposures without a hook in `vulns` (which may not import
`inventory`): the periodic `inventory.sync_vulns` job reprioritises the exposures of the records
whose id or alias is a KEV entry changed since its last run, and only those."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.tasks import SYNC_VULNS_JOB
from clearinghouse.storage import jobs
from clearinghouse.vulns.intake.kev import import_kev
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.support import drain
from tests.inventory.test_prioritise import _asset, _matched
from tests.support.world import World

EXPLOITED = "CVE-2099-41001"
UNRELATED = "CVE-2099-41002"


def _sync(world: World) -> None:
    """One run of the periodic job, through the worker (as the worker's clock would queue it)."""
    with world.services.db.transaction() as s:
        jobs.enqueue(s, SYNC_VULNS_JOB, {})
    drain(world.services)


def _kev_file(tmp_path: Path, cve: str, due: str) -> Path:
    path = tmp_path / "known_exploited_vulnerabilities.json"
    entry = {
        "cveID": cve,
        "vendorProject": "Example",
        "product": "kevlib",
        "vulnerabilityName": "kevlib remote code execution",
        "dateAdded": utcnow().date().isoformat(),
        "dueDate": due,
        "knownRansomwareCampaignUse": "Unknown",
        "requiredAction": "Apply the update.",
    }
    path.write_text(json.dumps({"title": "KEV", "vulnerabilities": [entry]}), encoding="utf-8")
    return path


def test_a_kev_import_reprioritises_the_exposures_of_that_cve_and_no_other(
    world: World, tmp_path: Path
) -> None:
    svc = world.services
    _sync(world)  # the first run sets the sync's mark
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2099-1", "kevlib", aliases=(EXPLOITED,)))
        import_record(s, osv_doc("PYSEC-2099-2", "otherlib", aliases=(UNRELATED,)))
    hit = _matched(world, _asset(world), "pkg:pypi/kevlib@1.0")
    other = _matched(world, _asset(world), "pkg:pypi/otherlib@1.0")
    assert hit.kev is False and (hit.ssvc_inputs or {})["exploitation"]["value"] == "none"
    _sync(world)  # nothing new: the records were matched by the SBOM jobs
    # the adversary's witness: a stale priority on the unrelated exposure; a reprioritisation
    # of every exposure would overwrite it
    with svc.db.transaction() as s:
        row = s.get(Exposure, other.id)
        assert row is not None
        row.ssvc_inputs = {"stale": True}
        stamped = row.updated_at
    due = (utcnow() + timedelta(days=1)).date()
    result = import_kev(svc.db, Principal.system(), _kev_file(tmp_path, EXPLOITED, due.isoformat()))
    assert result.created == 1
    _sync(world)
    with svc.db.transaction() as s:
        e = s.get(Exposure, hit.id)
        assert e is not None
        inputs = e.ssvc_inputs or {}
        assert e.kev is True
        assert inputs["exploitation"] == {
            "value": "active",
            "source": "kev",
            "why": inputs["exploitation"]["why"],
        }
        assert e.due_at == datetime(due.year, due.month, due.day, 23, 59, 59, tzinfo=UTC)
        assert inputs["due"].startswith("kev:")
        untouched = s.get(Exposure, other.id)
        assert untouched is not None
        assert untouched.ssvc_inputs == {"stale": True} and untouched.updated_at == stamped
        assert untouched.kev is False
    _sync(world)  # the next run, within the overlap, reads the entry again: still only its own
    with svc.db.transaction() as s:
        again = s.get(Exposure, other.id)
        assert again is not None and again.ssvc_inputs == {"stale": True}


def test_a_kev_entry_updated_later_moves_the_due_date(world: World, tmp_path: Path) -> None:
    """An updated entry (CISA moves a due date) is a change too, not only a new one."""
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2099-3", "kevlib", aliases=(EXPLOITED,)))
    first = (utcnow() + timedelta(days=2)).date()
    import_kev(svc.db, Principal.system(), _kev_file(tmp_path, EXPLOITED, first.isoformat()))
    hit = _matched(world, _asset(world), "pkg:pypi/kevlib@1.0")
    assert hit.due_at == datetime(first.year, first.month, first.day, 23, 59, 59, tzinfo=UTC)
    _sync(world)
    moved = (utcnow() + timedelta(days=1)).date()
    result = import_kev(
        svc.db, Principal.system(), _kev_file(tmp_path, EXPLOITED, moved.isoformat())
    )
    assert result.updated == 1
    _sync(world)
    with svc.db.transaction() as s:
        e = s.get(Exposure, hit.id)
        assert e is not None
        assert e.due_at == datetime(moved.year, moved.month, moved.day, 23, 59, 59, tzinfo=UTC)


def test_the_other_records_of_a_kev_listed_records_case_are_reprioritised_too(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """A case's exploitation is active once any CVE of its records is KEV-listed: the case's
    other record (no KEV alias of its own) is reprioritised with it."""
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        listed = import_record(s, osv_doc("PYSEC-2099-5", "kevlib", aliases=(EXPLOITED,)))
        sibling = import_record(s, osv_doc("PYSEC-2099-6", "siblib"))
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    r = client.post(
        "/api/v1/cases",
        headers=coordinator.headers,
        json={"vuln_ids": [listed, sibling], "title": "two records", "tlp": "AMBER"},
    )
    assert r.status_code == 201, r.text
    hit = _matched(world, _asset(world), "pkg:pypi/siblib@1.0")
    assert (hit.ssvc_inputs or {})["exploitation"]["value"] == "none"
    _sync(world)
    due = (utcnow() + timedelta(days=1)).date()
    import_kev(svc.db, Principal.system(), _kev_file(tmp_path, EXPLOITED, due.isoformat()))
    _sync(world)
    with svc.db.transaction() as s:
        e = s.get(Exposure, hit.id)
        assert e is not None and e.kev is False  # its own record is not listed
        assert (e.ssvc_inputs or {})["exploitation"]["value"] == "active"
        assert (e.ssvc_inputs or {})["exploitation"]["source"] == "case"
