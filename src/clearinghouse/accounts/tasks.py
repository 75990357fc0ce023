"""Background jobs of accounts: purging ended web sessions."""

from __future__ import annotations

import logging
from typing import Any

from clearinghouse.accounts import web_sessions
from clearinghouse.storage.jobs import JobContext, job_handler

log = logging.getLogger(__name__)

PURGE_JOB = "accounts.purge_web_sessions"


@job_handler(PURGE_JOB, periodic=True)
def purge_web_sessions(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Every periodic interval: delete the rows of web sessions that ended more than
    `web_sessions.PURGE_GRACE` ago (expired, idle or signed out)."""
    purged = web_sessions.purge_ended(ctx.tx, ctx.services.settings)
    if purged:
        log.info("ended web sessions purged", extra={"count": purged})
