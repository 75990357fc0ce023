"""Job handlers used only by the tests. Workers load them via CLEARINGHOUSE_JOB_MODULES."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.storage.jobs import JobContext, job_handler


@job_handler("test.effect")
def effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Records one audit event (the job's database effect). On the first attempt it can stall
    after announcing itself, so a test can SIGKILL the worker mid-job."""
    audit.record(
        ctx.session,
        "test:job:effect",
        actor=Actor(),
        subject_type="job",
        subject_id=ctx.job_id,
        data={"attempt": ctx.attempt, "key": ctx.idempotency_key},
    )
    if payload.get("stall_first_attempt") and ctx.attempt == 1:
        Path(payload["marker"]).write_text("started")
        time.sleep(payload.get("stall_seconds", 120))


@job_handler("test.flaky")
def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(
            f"attempt {ctx.attempt} fails (token chk_ABCDEF_0123456789abcdef leaked?)"
        )
    audit.record(
        ctx.session, "test:job:effect", actor=Actor(), subject_type="job", subject_id=ctx.job_id
    )
