"""The `inventory.reprioritise` job: after an EPSS or KEV import, the standing exposures'
priorities (SSVC, EPSS, KEV, due date) are computed again (`inventory.prioritise`).

Importing this module registers the handler (`inventory.tasks` imports it). Callers queue it
with `request_reprioritise` in their own transaction; one job per import (idempotency key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.due import DuePolicy
from clearinghouse.inventory.models import OPEN_STATUSES, Exposure, ExposureStatus
from clearinghouse.inventory.prioritise import prioritise
from clearinghouse.storage import jobs
from clearinghouse.storage.jobs import JobContext, job_handler

REPRIORITISE_JOB = "inventory.reprioritise"
CHUNK = 500
# Statuses whose priority still matters: open work, and accepted risk (it can be revisited).
STANDING = sorted({*OPEN_STATUSES, ExposureStatus.risk_accepted, ExposureStatus.mitigated})


def request_reprioritise(session: Session, reason: str, key: str | None = None) -> None:
    """Queue one reprioritisation (e.g. `reason="epss 2025-03-16"`), in the caller's
    transaction; the same `key` queues it once."""
    jobs.enqueue(session, REPRIORITISE_JOB, {"reason": reason[:200]}, idempotency_key=key)


def reprioritise_all(session: Session, policy: DuePolicy | None = None) -> dict[str, int]:
    """Every standing exposure, in id order, a chunk at a time."""
    seen = changed = 0
    last = ""
    while True:
        chunk = list(
            session.scalars(
                select(Exposure)
                .where(Exposure.status.in_(STANDING), Exposure.id > last)
                .order_by(Exposure.id)
                .limit(CHUNK)
            )
        )
        if not chunk:
            return {"exposures": seen, "changed": changed}
        changed += prioritise(session, chunk, policy)
        seen += len(chunk)
        last = chunk[-1].id


@job_handler(REPRIORITISE_JOB)
def reprioritise(ctx: JobContext, payload: dict[str, Any]) -> None:
    result = reprioritise_all(ctx.tx, DuePolicy.from_settings(ctx.services.settings))
    audit.record(
        ctx.tx,
        AuditTag.INVENTORY_EXPOSURE_REPRIORITISE,
        actor=Actor(),
        subject_type="inventory",
        subject_id="exposures",
        data={**result, "reason": str(payload.get("reason", ""))},
    )
