"""Background jobs of the review program."""

from __future__ import annotations

import logging
from typing import Any

from clearinghouse.reviews import services
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)


@job_handler("reviews.lapse_windows", periodic=True)
def lapse_windows(ctx: JobContext, payload: dict[str, Any]) -> None:
    lapsed = services.lapse_overdue(ctx.tx, ctx.services.vault)
    if lapsed:
        log.info("review windows lapsed", extra={"submission_ids": lapsed})


@job_handler("reviews.purge_expired", periodic=True)
def purge_expired(ctx: JobContext, payload: dict[str, Any]) -> None:
    purged = services.purge_expired(
        ctx.tx, ctx.services.vault, ctx.services.blobs, ctx.services.settings.var_dir
    )
    if purged:
        log.info("confidential content purged after retention", extra={"submission_ids": purged})
