"""The `inventory.reprioritise` job's body: after an EPSS import, the standing exposures'
priorities (SSVC, EPSS, KEV, due date) are computed again (`inventory.prioritise`). After a KEV
import, the periodic `inventory.sync_vulns` reprioritises the exposures of the CVEs whose entry
changed (`reprioritise_all(..., vuln_ids=...)`), not every exposure.

The handler is registered in `inventory.tasks` (the domain's one jobs module) and calls `run`.
Callers queue it with `request_reprioritise` in their own transaction; one job per import (the
idempotency key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.config import Settings
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.due import DuePolicy
from clearinghouse.inventory.models import OPEN_STATUSES, Exposure, ExposureStatus
from clearinghouse.inventory.prioritise import prioritise
from clearinghouse.storage import jobs

REPRIORITISE_JOB = "inventory.reprioritise"
CHUNK = 500
# Statuses whose priority still matters: open work, and accepted risk (it can be revisited).
STANDING = sorted({*OPEN_STATUSES, ExposureStatus.risk_accepted, ExposureStatus.mitigated})


def request_reprioritise(session: Session, reason: str, key: str | None = None) -> None:
    """Queue one reprioritisation (e.g. `reason="epss 2025-03-16"`), in the caller's
    transaction; the same `key` queues it once."""
    jobs.enqueue(session, REPRIORITISE_JOB, {"reason": reason[:200]}, idempotency_key=key)


def reprioritise_all(
    session: Session, policy: DuePolicy | None = None, vuln_ids: Sequence[str] | None = None
) -> dict[str, int]:
    """Every standing exposure (with `vuln_ids`: those of these records only), in id order, a
    chunk at a time."""
    seen = changed = 0
    last = ""
    where: ColumnElement[bool] = Exposure.status.in_(STANDING)
    if vuln_ids is not None:
        where = where & Exposure.vuln_id.in_(sorted(vuln_ids))
    while True:
        chunk = list(
            session.scalars(
                select(Exposure).where(where, Exposure.id > last).order_by(Exposure.id).limit(CHUNK)
            )
        )
        if not chunk:
            return {"exposures": seen, "changed": changed}
        changed += prioritise(session, chunk, policy)
        seen += len(chunk)
        last = chunk[-1].id


def run(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    """The job: every standing exposure reprioritised, with one audit event."""
    result = reprioritise_all(session, DuePolicy.from_settings(settings))
    audit.record(
        session,
        AuditTag.INVENTORY_EXPOSURE_REPRIORITISE,
        actor=Actor(),
        subject_type="inventory",
        subject_id="exposures",
        data={**result, "reason": str(payload.get("reason", ""))},
    )
