"""Inventory jobs (issue 15): matching a new SBOM, and a new, changed or withdrawn advisory,
as durable, transactional jobs (all or nothing; a re-run changes nothing twice). Importing this
module registers their handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory import (
    early_warning,  # also registers its case hooks
    prioritise_tasks,
)
from clearinghouse.inventory.due import DuePolicy
from clearinghouse.inventory.matching import apply, sync
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.prioritise import prioritise
from clearinghouse.inventory.sboms.intake import MATCH_SBOM_JOB
from clearinghouse.storage import jobs
from clearinghouse.storage.jobs import JobContext, job_handler

SYNC_VULNS_JOB = "inventory.sync_vulns"


def _prioritise_changed(ctx: JobContext, since: datetime) -> None:
    """SSVC, EPSS, KEV and due date for every exposure this job opened or updated (in the same
    transaction: an exposure is never seen unprioritised after its job committed)."""
    changed = ctx.tx.scalars(select(Exposure).where(Exposure.updated_at >= since))
    prioritise(ctx.tx, changed, DuePolicy.from_settings(ctx.services.settings))


@job_handler(MATCH_SBOM_JOB)
def match_sbom(ctx: JobContext, payload: dict[str, Any]) -> None:
    started = utcnow()
    result = apply.match_sbom(ctx.tx, payload["sbom_id"])
    if "skipped" not in result:  # what the new SBOM brought, for the notified cases' groups
        result["early_warnings"] = len(early_warning.warn_sbom(ctx.tx, payload["sbom_id"]))
    _prioritise_changed(ctx, started)
    audit.record(
        ctx.tx,
        AuditTag.INVENTORY_SBOM_MATCH,
        actor=Actor(),
        subject_type="sbom",
        subject_id=payload["sbom_id"],
        data=result,
    )


@job_handler(apply.MATCH_VULN_JOB)
def match_vuln(ctx: JobContext, payload: dict[str, Any]) -> None:
    started = utcnow()
    result = apply.match_vuln(ctx.tx, payload["vuln_id"])
    _prioritise_changed(ctx, started)
    if result.get("opened") or result.get("closed") or result.get("withdrawn"):
        audit.record(
            ctx.tx,
            AuditTag.INVENTORY_VULN_MATCH,
            actor=Actor(),
            subject_type="vuln",
            subject_id=payload["vuln_id"],
            data=result,
        )


@job_handler(SYNC_VULNS_JOB, periodic=True)
def sync_vulns(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Records changed since the last round, and embargoes that ended since, against the
    components (inventory.matching.sync). A full batch queues the round's next batch, with its
    position: a round always moves forward."""
    after = None
    if payload.get("after_at"):
        after = (datetime.fromisoformat(payload["after_at"]), str(payload["after_id"]))
    started = utcnow()
    result = sync.sync_vulns(ctx.tx, after=after)
    _prioritise_changed(ctx, started)
    kev = {"exposures": 0, "changed": 0}
    if result.kev_vulns:  # KEV entries added or changed: those CVEs' exposures only
        policy = DuePolicy.from_settings(ctx.services.settings)
        kev = prioritise_tasks.reprioritise_all(ctx.tx, policy, vuln_ids=result.kev_vulns)
    if result.opened or result.closed or kev["changed"]:
        audit.record(
            ctx.tx,
            AuditTag.INVENTORY_VULN_MATCH,
            actor=Actor(),
            subject_type="inventory",
            subject_id="sync",
            data={
                "matched": result.matched,
                "opened": result.opened,
                "closed": result.closed,
                "kev_reprioritised": kev["changed"],
            },
        )
    if result.after is not None:
        at, last_id = result.after
        jobs.enqueue(ctx.tx, SYNC_VULNS_JOB, {"after_at": at.isoformat(), "after_id": last_id})


# exposures (helper I3): priorities again after an EPSS or KEV import
@job_handler(prioritise_tasks.REPRIORITISE_JOB)
def reprioritise(ctx: JobContext, payload: dict[str, Any]) -> None:
    prioritise_tasks.run(ctx.tx, ctx.services.settings, payload)
