"""Background jobs of the review program: lapsing windows and purging after retention."""

from __future__ import annotations

import logging
from typing import Any

from clearinghouse.reviews import retention
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)


@job_handler("reviews.lapse_windows", periodic=True)
def lapse_windows(ctx: JobContext, payload: dict[str, Any]) -> None:
    lapsed = retention.lapse_overdue(ctx.tx, ctx.services.vault)
    if lapsed:
        log.info("review windows lapsed", extra={"submission_ids": lapsed})


# The purge after retention (`reviews.purge_expired`) is in evals/tasks.py: it destroys the
# submission's eval-run artefacts in the same transaction, and evals builds on reviews.
