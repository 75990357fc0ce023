"""Background jobs of the evals domain: running a battery, and the purge after retention (a
reviews job that lives here because it also destroys the eval runs' artefacts, and evals
builds on reviews, never the other way)."""

from __future__ import annotations

import logging
from typing import Any

from clearinghouse.evals.runs import execution
from clearinghouse.evals.runs.artefacts import purge_submission
from clearinghouse.reviews import retention
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)


@job_handler("evals.run", transactional=False, max_attempts=3)
def run_battery(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Run (or resume) an eval run. Not transactional: it commits progress as it goes, and
    Inspect's eval-set skips the tasks a previous attempt already completed."""
    execution.execute_run(ctx.services, payload["run_id"], ctx.heartbeat)


@job_handler("reviews.purge_expired", periodic=True)
def purge_expired(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Destroy the confidential content of submissions past retention, their eval-run
    artefacts included, in one transaction."""
    purged = retention.purge_expired(
        ctx.tx,
        ctx.services.vault,
        ctx.services.blobs,
        ctx.services.settings.var_dir,
        eval_artefacts=purge_submission,
    )
    if purged:
        log.info("confidential content purged after retention", extra={"submission_ids": purged})
