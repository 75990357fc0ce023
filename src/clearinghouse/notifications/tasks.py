"""Notification jobs: fan-out (transactional), delivery (not: it talks to the outside, then
records the outcome in its own short transaction) and the periodic digests."""

from __future__ import annotations

from typing import Any

from clearinghouse.notifications import delivery, digests, fanout, outbox
from clearinghouse.storage.jobs import Job, JobContext, job_handler


@job_handler(outbox.FANOUT_JOB)
def fan_out(ctx: JobContext, payload: dict[str, Any]) -> None:
    fanout.fan_out(
        ctx.tx, payload["notification_id"], ctx.services.settings.notification_max_attempts
    )


@job_handler(fanout.DELIVER_JOB, transactional=False)
def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One attempt. A worker killed after sending and before recording leaves the job leased;
    once the lease expires another worker sends again with the same webhook-id."""
    services = ctx.services
    with services.db.transaction() as session:
        prepared = delivery.prepare(session, services.vault, payload["delivery_id"])
        job = session.get(Job, ctx.job_id)
        final = job is None or ctx.attempt >= job.max_attempts
    if prepared is None:
        return
    try:
        code = delivery.send(prepared, services.settings)
    except delivery.DeliveryFailed as exc:
        with services.db.transaction() as session:
            delivery.record(session, prepared.delivery_id, error=exc, final=final)
        raise
    with services.db.transaction() as session:
        delivery.record(session, prepared.delivery_id, error=None, status_code=code)


@job_handler("notifications.digest", periodic=True, transactional=False)
def send_digests(ctx: JobContext, payload: dict[str, Any]) -> None:
    digests.send_due_digests(ctx.services)
