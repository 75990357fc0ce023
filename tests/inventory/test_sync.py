"""The periodic record-change sync (`inventory.matching.sync`): a record imported after an SBOM
opens its exposure with no hook in the import path; a record whose embargo ends by the clock
(no row changes) reaches the operator at the next run; a change committed late, with an
`updated_at` before the mark, is not skipped; a run with nothing new changes nothing."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.matching.sync import sync_vulns
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert
from tests.inventory.support import cyclonedx, drain, operator_with_asset
from tests.support.world import World

INTRO0 = {"introduced": "0"}


def _doc(rid: str, name: str) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [INTRO0, {"fixed": "2.0"}]}],
            }
        ],
    }


def _import(world: World, rid: str, name: str) -> str:
    with world.services.db.transaction() as s:
        upsert(s, canonical(_doc(rid, name)))
        vid = s.scalar(select(Vulnerability.id).where(Vulnerability.source_id == rid))
        assert vid is not None
        return vid


def _open(world: World, asset: str) -> set[str]:
    with world.services.db.transaction() as s:
        return set(s.scalars(select(Exposure.vuln_id).where(Exposure.asset_id == asset)))


def _sync(world: World) -> Any:
    with world.services.db.transaction() as s:
        return sync_vulns(s)


def test_later_records_and_ended_embargoes_reach_the_operator(world: World) -> None:
    _, asset = operator_with_asset(world)
    svc = world.services
    assert _sync(world).matched == 0  # the first run only sets the mark
    with svc.db.transaction() as s:
        upload(
            s,
            Principal.system(),
            svc.settings,
            asset,
            cyclonedx("pkg:pypi/late@1.0", "pkg:pypi/hushed@1.0", "pkg:pypi/stale@1.0"),
        )
    drain(svc)
    assert _open(world, asset) == set()
    late = _import(world, "PYSEC-SYNC-1", "late")
    hushed = _import(world, "PYSEC-SYNC-2", "hushed")
    with svc.db.transaction() as s:  # public, but under embargo for two more seconds
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.id == hushed)
            .values(embargo_until=utcnow() + timedelta(seconds=2))
        )
    result = _sync(world)
    assert result.opened == 1 and _open(world, asset) == {late}
    assert _sync(world).opened == 0  # nothing new: nothing changes (idempotent)
    time.sleep(2.5)  # the embargo ends by the clock: no row changes
    assert _sync(world).opened == 1 and _open(world, asset) == {late, hushed}
    # A change that committed late, stamped before the mark (within the overlap), is matched.
    stale = _import(world, "PYSEC-SYNC-3", "stale")
    with svc.db.transaction() as s:
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.id == stale)
            .values(updated_at=utcnow() - timedelta(minutes=2))
        )
    _sync(world)  # nothing newer than the mark: no round, by design (the overlap is read once
    # per new change, never on every tick); the next change starts a round that reads it
    _import(world, "PYSEC-SYNC-5", "unrelated")
    _sync(world)
    assert stale in _open(world, asset)


def test_the_job_is_periodic_and_runs_through_the_worker(world: World) -> None:
    from clearinghouse.inventory.tasks import SYNC_VULNS_JOB
    from clearinghouse.storage import jobs

    assert SYNC_VULNS_JOB in jobs.periodic_kinds()
    _, asset = operator_with_asset(world)
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx("pkg:pypi/viajob@1.0"))
    drain(svc)
    vid = _import(world, "PYSEC-SYNC-4", "viajob")
    with svc.db.transaction() as s:
        jobs.enqueue(s, SYNC_VULNS_JOB, {})
    drain(svc)
    assert _open(world, asset) == {vid}


def test_a_bulk_import_sharing_one_timestamp_is_synced_in_batches_and_stops(
    world: World, monkeypatch: Any
) -> None:
    """The demo's PyPA import stamps 2,661 records with one `updated_at`: a round must move
    forward batch by batch and end (it once re-read the same full batch forever), and a tick
    with nothing new must not read the overlap again."""
    from clearinghouse.inventory.matching import sync
    from clearinghouse.inventory.tasks import SYNC_VULNS_JOB
    from clearinghouse.storage import jobs
    from clearinghouse.storage.jobs import Job

    monkeypatch.setattr(sync, "BATCH", 5)
    _, asset = operator_with_asset(world)
    svc = world.services
    _sync(world)
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx("pkg:pypi/bulk7@1.0"))
    drain(svc)
    with svc.db.transaction() as s:  # one transaction, one timestamp, like an import
        for n in range(12):
            upsert(s, canonical(_doc(f"PYSEC-BULK-{n}", f"bulk{n}")))
    with svc.db.transaction() as s:
        jobs.enqueue(s, SYNC_VULNS_JOB, {})
    drain(svc, rounds=20)
    with svc.db.transaction() as s:
        ran = s.scalar(select(func.count()).select_from(Job).where(Job.kind == SYNC_VULNS_JOB))
        waiting = s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == SYNC_VULNS_JOB, Job.state == "queued")
        )
    assert waiting == 0 and ran is not None and ran <= 5, ran  # 12 records: 3 batches, done
    bulk7 = _open(world, asset)
    assert len(bulk7) == 1  # the one record of bulk7 matched
    with svc.db.transaction() as s:  # nothing new: the round does not start
        assert sync.sync_vulns(s).matched == 0
