"""Background jobs of the evals domain."""

from __future__ import annotations

from typing import Any

from clearinghouse.evals.runs import execution
from clearinghouse.storage.jobs import JobContext, job_handler


@job_handler("evals.run", transactional=False, max_attempts=3)
def run_battery(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Run (or resume) an eval run. Not transactional: it commits progress as it goes, and
    Inspect's eval-set skips the tasks a previous attempt already completed."""
    execution.execute_run(ctx.services, payload["run_id"], ctx.heartbeat)
