"""Background jobs of the review program: lapsing windows and purging after retention."""

from __future__ import annotations

import logging
from typing import Any

# The one import of evals in reviews, and it is here, in a job module, on purpose: a submission's
# purge destroys its eval runs' artefacts in the same transaction (`retention.ArtefactPurger`).
# The lead may move this handler to evals/tasks.py (evals builds on reviews) to drop it.
from clearinghouse.evals.artefacts import purge_submission
from clearinghouse.reviews import retention
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)


@job_handler("reviews.lapse_windows", periodic=True)
def lapse_windows(ctx: JobContext, payload: dict[str, Any]) -> None:
    lapsed = retention.lapse_overdue(ctx.tx, ctx.services.vault)
    if lapsed:
        log.info("review windows lapsed", extra={"submission_ids": lapsed})


@job_handler("reviews.purge_expired", periodic=True)
def purge_expired(ctx: JobContext, payload: dict[str, Any]) -> None:
    purged = retention.purge_expired(
        ctx.tx,
        ctx.services.vault,
        ctx.services.blobs,
        ctx.services.settings.var_dir,
        eval_artefacts=purge_submission,
    )
    if purged:
        log.info("confidential content purged after retention", extra={"submission_ids": purged})
