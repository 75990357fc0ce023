"""Background jobs of the audit trail: a signed checkpoint on a schedule."""

from __future__ import annotations

import logging
from typing import Any

from clearinghouse.audit import trail
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)


@job_handler("audit.checkpoint", periodic=True)
def checkpoint(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Runs every periodic interval; signs a checkpoint when the latest one is older than
    `audit_checkpoint_interval_seconds` (default an hour) and events were added since."""
    row = trail.checkpoint_if_due(ctx.tx, ctx.services.settings.audit_checkpoint_interval_seconds)
    if row is not None:
        log.info("audit checkpoint signed", extra={"size": row.size})
