"""Coordination jobs: publication at the deadline and the transparency notices (both periodic;
docs/coordination.md, "Publication"), and the verification of a vendor's fix."""

from __future__ import annotations

from typing import Any

from clearinghouse.coordination import deadlines, fixes, publication
from clearinghouse.storage.jobs import JobContext, job_handler

PUBLISH_JOB = "coordination.publish_due"
TRANSPARENCY_JOB = "coordination.transparency_notices"


@job_handler(PUBLISH_JOB, periodic=True, transactional=False)
def publish_due(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Each due case in its own transaction: a crash midway leaves the rest for the next run,
    and a case already published is skipped (its row is locked and read again)."""
    services = ctx.services
    publication.publish_due(services.db, policy=deadlines.policy_for(services.settings))


@job_handler(TRANSPARENCY_JOB, periodic=True)
def transparency_notices(ctx: JobContext, payload: dict[str, Any]) -> None:
    publication.send_transparency_notices(ctx.tx)


@job_handler(fixes.JOB_KIND, transactional=False, max_attempts=fixes.MAX_ATTEMPTS)
def verify_fix(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The case's recipe, re-run against the vendor's fix (`coordination/fixes.py`)."""
    fixes.run(ctx.services, payload, final=ctx.attempt >= fixes.MAX_ATTEMPTS)
