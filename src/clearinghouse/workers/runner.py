"""The worker loop.

Claims one job at a time, runs its handler inside a transaction, heart-beats the lease from a
side thread, and records success or failure. SIGTERM/SIGINT finish the current job, then exit.
A SIGKILL loses nothing: the job's lease expires and another worker (or this one restarted)
claims it again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import FrameType

from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.storage import jobs

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    succeeded: int = 0
    failed: int = 0
    lost: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


class Worker:
    def __init__(self, services: Services, *, worker_id: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.stats = RunStats()

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("stopping after the current job", extra={"signal": signum})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def enqueue_periodic(self) -> None:
        interval = max(1, self.settings.periodic_interval_seconds)
        bucket = int(time.time()) // interval
        with self.services.db.transaction() as session:
            for kind in jobs.periodic_kinds():
                jobs.enqueue(
                    session,
                    kind,
                    {},
                    idempotency_key=f"periodic:{kind}:{interval}:{bucket}",
                    max_attempts=self.settings.job_max_attempts,
                )

    def run_once(self, *, job_id: str | None = None) -> bool:
        """Claim and run one due job (with `job_id`, only that one). False when none was due."""
        with self.services.db.transaction() as session:
            job = jobs.claim(
                session, self.worker_id, self.settings.job_lease_seconds, job_id=job_id
            )
            if job is None:
                return False
            job_id, kind, key, attempt, payload = (
                job.id,
                job.kind,
                job.idempotency_key,
                job.attempts,
                dict(job.payload),
            )
        self._execute(job_id, kind, key, attempt, payload)
        return True

    def _execute(
        self, job_id: str, kind: str, key: str, attempt: int, payload: dict[str, object]
    ) -> None:
        spec = jobs.handler_for(kind)
        beat_stop = threading.Event()
        beater = threading.Thread(target=self._heartbeat, args=(job_id, beat_stop), daemon=True)
        beater.start()
        started = time.monotonic()
        try:
            if spec is None:
                raise LookupError(f"no handler registered for job kind {kind!r}")
            if spec.transactional:
                with self.services.db.transaction() as session:
                    ctx = jobs.JobContext(job_id, kind, key, attempt, session, self.services)
                    spec.func(ctx, payload)
                    if not jobs.complete(session, job_id, self.worker_id, attempt):
                        # Another worker holds the job now; roll back this attempt's effects.
                        raise _LeaseLost
            else:
                ctx = jobs.JobContext(
                    job_id,
                    kind,
                    key,
                    attempt,
                    None,
                    self.services,
                    heartbeat=lambda progress: self._progress(job_id, progress),
                )
                spec.func(ctx, payload)
                with self.services.db.transaction() as session:
                    if not jobs.complete(session, job_id, self.worker_id, attempt):
                        raise _LeaseLost
        except _LeaseLost:
            self.stats.lost += 1
            log.warning("lease lost; attempt rolled back", extra={"job_id": job_id, "kind": kind})
        except Exception as exc:
            self.stats.failed += 1
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            with self.services.db.transaction() as session:
                state = jobs.fail(session, job_id, self.worker_id, attempt, error)
            log.warning(
                "job failed",
                extra={
                    "job_id": job_id,
                    "kind": kind,
                    "attempt": attempt,
                    "next_state": state.value if state else None,
                    "error": error,
                },
            )
        else:
            self.stats.succeeded += 1
            self.stats.kinds[kind] = self.stats.kinds.get(kind, 0) + 1
            log.info(
                "job succeeded",
                extra={
                    "job_id": job_id,
                    "kind": kind,
                    "attempt": attempt,
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
        finally:
            beat_stop.set()
            beater.join()

    def _progress(self, job_id: str, progress: dict[str, object]) -> None:
        with self.services.db.transaction() as session:
            jobs.set_progress(session, job_id, progress)

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.settings.job_heartbeat_seconds):
            try:
                with self.services.db.transaction() as session:
                    if not jobs.heartbeat(
                        session, job_id, self.worker_id, self.settings.job_lease_seconds
                    ):
                        return
            except Exception:  # a missed beat is not fatal: the lease has slack
                log.debug("heartbeat failed", exc_info=True)

    def run(self, *, until_idle: bool = False, max_jobs: int | None = None) -> RunStats:
        last_periodic = 0.0
        done = 0
        while not self.stopping.is_set():
            if (
                time.monotonic() - last_periodic >= self.settings.periodic_interval_seconds
                or last_periodic == 0.0
            ):
                self.enqueue_periodic()
                last_periodic = time.monotonic()
            ran = self.run_once()
            done += ran
            if max_jobs is not None and done >= max_jobs:
                break
            if not ran:
                if until_idle:
                    break
                self.stopping.wait(self.settings.worker_poll_seconds)
        log.info(
            "worker stopped",
            extra={
                "at": utcnow().isoformat(),
                "succeeded": self.stats.succeeded,
                "failed": self.stats.failed,
            },
        )
        return self.stats


class _LeaseLost(Exception):
    pass
