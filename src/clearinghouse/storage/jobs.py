"""The durable job queue, kept in the database.

A job is claimed by taking a *lease* (owner + expiry). The worker extends the lease with
heartbeats while the handler runs. A worker that dies (even by SIGKILL) stops heart-beating; once
the lease expires any worker may claim the job again, so no job is lost. Claims use
`FOR UPDATE SKIP LOCKED` on PostgreSQL so several workers never take the same job; SQLite
serialises writers with `BEGIN IMMEDIATE`, which gives the same guarantee for one machine.

Transactional handlers run inside the same transaction that marks the job succeeded, and that
final update is conditional on still holding the lease: if another worker took the job over, the
whole attempt rolls back. Their database effects therefore happen exactly once. Effects outside
the database (webhooks, model calls) get the job's `idempotency_key` so the receiver can detect
a repeat.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, Text, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.ids import new_id
from clearinghouse.core.logging import redact_text
from clearinghouse.storage.base import Base
from clearinghouse.storage.services import Services


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    dead = "dead"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(120), index=True)
    payload: Mapped[dict[str, Any]]
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


@dataclass
class JobContext:
    """What a handler gets: its job, the session (transactional handlers) and the services."""

    job_id: str
    kind: str
    idempotency_key: str
    attempt: int
    session: Session | None  # None for non-transactional handlers, which open their own
    services: Services
    heartbeat: Callable[[dict[str, Any]], None] = lambda progress: None

    @property
    def tx(self) -> Session:
        """The job's transaction (transactional handlers only)."""
        if self.session is None:
            raise RuntimeError(
                f"job kind {self.kind!r} is not transactional; open your own transactions"
            )
        return self.session


Handler = Callable[[JobContext, dict[str, Any]], None]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    func: Handler
    max_attempts: int | None
    periodic: bool
    transactional: bool


_HANDLERS: dict[str, HandlerSpec] = {}


def job_handler(
    kind: str,
    *,
    max_attempts: int | None = None,
    periodic: bool = False,
    transactional: bool = True,
) -> Callable[[Handler], Handler]:
    """Register `func` as the handler of jobs of `kind` (names are `domain.verb`).

    A `periodic` handler is enqueued by every worker once per `periodic_interval_seconds`,
    under an idempotency key derived from the interval, so N workers still enqueue it once.

    A `transactional` handler runs inside the transaction that completes the job (exactly-once
    database effects). Long handlers (evaluation runs) set `transactional=False`: they get no
    session, commit their own short transactions, and must be idempotent, since a crash makes
    the next attempt start over from what they committed.
    """

    def register(func: Handler) -> Handler:
        if kind in _HANDLERS and _HANDLERS[kind].func is not func:
            raise ValueError(f"job kind {kind!r} is registered twice")
        _HANDLERS[kind] = HandlerSpec(kind, func, max_attempts, periodic, transactional)
        return func

    return register


def handler_for(kind: str) -> HandlerSpec | None:
    return _HANDLERS.get(kind)


def periodic_kinds() -> list[str]:
    return sorted(k for k, spec in _HANDLERS.items() if spec.periodic)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job, or return the existing one with the same idempotency key."""
    if handler_for(kind) is None:
        raise InvalidInput(
            f"no handler is registered for job kind {kind!r}", code="job_kind_unknown"
        )
    now = utcnow()
    values = {
        "id": new_id("job"),
        "kind": kind,
        "payload": payload or {},
        "idempotency_key": idempotency_key or new_id("idem"),
        "state": JobState.queued.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at or now,
        "created_at": now,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Job).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    job = session.scalars(select(Job).where(Job.idempotency_key == values["idempotency_key"])).one()
    return job


def due_clause(now: datetime) -> ColumnElement[bool]:
    return or_(
        (Job.state == JobState.queued.value) & (Job.run_at <= now),
        (Job.state == JobState.running.value) & (Job.lease_expires_at < now),
    )


def claim(
    session: Session, owner: str, lease_seconds: float, *, job_id: str | None = None
) -> Job | None:
    """Lease the next due job (queued, or running with an expired lease) to `owner`; with
    `job_id`, only that job."""
    now = utcnow()
    job = session.scalars(
        select(Job)
        .where(due_clause(now), *([Job.id == job_id] if job_id is not None else []))
        .order_by(Job.run_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.state = JobState.running.value
    job.attempts += 1
    job.lease_owner = owner
    job.lease_expires_at = now + timedelta(seconds=lease_seconds)
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    return job


def heartbeat(session: Session, job_id: str, owner: str, lease_seconds: float) -> bool:
    """Extend the lease. False means the lease was lost (another worker took over)."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.running.value)
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(session: Session, job_id: str, owner: str, attempt: int) -> bool:
    """Mark succeeded, only if `owner` still holds this attempt's lease."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.lease_owner == owner,
            Job.attempts == attempt,
            Job.state == JobState.running.value,
        )
        .values(
            state=JobState.succeeded.value,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: uniform in [base, min(cap, base * 2**attempt)]."""
    return random.uniform(base, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not security


def fail(session: Session, job_id: str, owner: str, attempt: int, error: str) -> JobState | None:
    """Record a failed attempt: retry later with backoff, or give up (dead) after max_attempts."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.lease_owner != owner or job.attempts != attempt:
        return None
    job.last_error = redact_text(error)[-4000:]
    job.lease_owner = None
    job.lease_expires_at = None
    if job.attempts >= job.max_attempts:
        job.state = JobState.dead.value
        job.finished_at = utcnow()
    else:
        job.state = JobState.queued.value
        job.run_at = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
    return JobState(job.state)


def set_progress(session: Session, job_id: str, progress: dict[str, Any]) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(progress=progress))


def queue_stats(session: Session) -> dict[str, float]:
    """Depth (due + waiting) and the age in seconds of the oldest queued job, for /metrics."""
    now = utcnow()
    depth = (
        session.scalar(
            select(func.count()).select_from(Job).where(Job.state.in_(["queued", "running"]))
        )
        or 0
    )
    oldest = session.scalar(
        select(func.min(Job.created_at)).where(Job.state == JobState.queued.value)
    )
    return {
        "depth": float(depth),
        "oldest_age_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }
