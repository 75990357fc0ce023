"""Inventory jobs (issue 15): matching a new SBOM, and a new, changed or withdrawn advisory,
as durable, transactional jobs (all or nothing; a re-run changes nothing twice). Importing this
module registers their handlers."""

from __future__ import annotations

from typing import Any

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.matching import apply, sync
from clearinghouse.inventory.sboms.intake import MATCH_SBOM_JOB
from clearinghouse.storage import jobs
from clearinghouse.storage.jobs import JobContext, job_handler

SYNC_VULNS_JOB = "inventory.sync_vulns"


@job_handler(MATCH_SBOM_JOB)
def match_sbom(ctx: JobContext, payload: dict[str, Any]) -> None:
    result = apply.match_sbom(ctx.tx, payload["sbom_id"])
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
    result = apply.match_vuln(ctx.tx, payload["vuln_id"])
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
    """Records changed since the last run, and embargoes that ended since, against the
    components (inventory.matching.sync); a full batch queues the next run at once."""
    result = sync.sync_vulns(ctx.tx)
    if result.opened or result.closed:
        audit.record(
            ctx.tx,
            AuditTag.INVENTORY_VULN_MATCH,
            actor=Actor(),
            subject_type="inventory",
            subject_id="sync",
            data={"matched": result.matched, "opened": result.opened, "closed": result.closed},
        )
    if result.more:
        jobs.enqueue(ctx.tx, SYNC_VULNS_JOB, {})


# exposures (helper I3): the reprioritisation job and the early-warning hooks register here
from clearinghouse.inventory import early_warning, prioritise_tasks  # noqa: E402, F401
