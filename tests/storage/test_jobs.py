"""The durable job queue: idempotent enqueue, retries with backoff, crash survival, and
several workers sharing one queue without running a job twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services, load_job_handlers
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.reviews.models import Submission
from clearinghouse.storage import jobs
from clearinghouse.storage.jobs import Job
from clearinghouse.workers.runner import Worker
from tests.support.openai_stub import openai_endpoint
from tests.support.world import World

load_job_handlers(["tests.support.jobs"])


def _worker_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "CLEARINGHOUSE_JOB_MODULES": '["tests.support.jobs"]',
        "CLEARINGHOUSE_JOB_LEASE_SECONDS": "2",
        "CLEARINGHOUSE_JOB_HEARTBEAT_SECONDS": "0.5",
        "CLEARINGHOUSE_WORKER_POLL_SECONDS": "0.1",
        "CLEARINGHOUSE_PERIODIC_INTERVAL_SECONDS": "3600",
        "CLEARINGHOUSE_LOG_LEVEL": "WARNING",
    }


def run_until_idle(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearinghouse", "worker", "--until-idle", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _effects(services: Services, job_id: str | None = None) -> int:
    with services.db.transaction() as s:
        q = select(func.count()).select_from(AuditEvent).where(AuditEvent.tag == "test:job:effect")
        if job_id:
            q = q.where(AuditEvent.subject_id == job_id)
        return s.scalar(q) or 0


def _job(services: Services, job_id: str) -> Job:
    with services.db.transaction() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_enqueue_is_idempotent_and_rejects_unknown_kinds(services: Services) -> None:
    with services.db.transaction() as s:
        a = jobs.enqueue(s, "test.effect", {"x": 1}, idempotency_key="same")
        b = jobs.enqueue(s, "test.effect", {"x": 2}, idempotency_key="same")
        assert a.id == b.id and b.payload == {"x": 1}
        with pytest.raises(InvalidInput):
            jobs.enqueue(s, "no.such.kind", {})


def test_retries_with_backoff_then_succeeds(services: Services) -> None:
    with services.db.transaction() as s:
        job_id = jobs.enqueue(s, "test.flaky", {"succeed_on": 3}).id
    w = Worker(services, worker_id="w1")
    for attempt in (1, 2):
        before = utcnow()
        assert w.run_once()
        job = _job(services, job_id)
        assert job.state == "queued" and job.attempts == attempt
        assert job.run_at > before  # backed off
        assert "attempt" in (job.last_error or "") and "0123456789abcdef" not in (
            job.last_error or ""
        )
        assert not w.run_once()  # not due yet
        with services.db.transaction() as s:
            s.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
    assert w.run_once()
    job = _job(services, job_id)
    assert job.state == "succeeded" and job.attempts == 3
    assert _effects(services, job_id) == 1  # failed attempts rolled back their effects


def test_gives_up_after_max_attempts(services: Services) -> None:
    with services.db.transaction() as s:
        job_id = jobs.enqueue(s, "test.flaky", {"succeed_on": 99}, max_attempts=2).id
    w = Worker(services, worker_id="w1")
    w.run_once()
    with services.db.transaction() as s:
        s.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
    w.run_once()
    job = _job(services, job_id)
    assert job.state == "dead" and job.attempts == 2 and job.finished_at is not None


def test_lease_lost_rolls_back_the_attempt(services: Services) -> None:
    """If another worker took the job over, the late finisher's effects are discarded."""
    with services.db.transaction() as s:
        job_id = jobs.enqueue(s, "test.effect", {}).id
        job = jobs.claim(s, "slow-worker", 60)
        assert job is not None
    with services.db.transaction() as s:  # the lease is stolen (as after an expiry)
        s.execute(update(Job).where(Job.id == job_id).values(lease_owner="other", attempts=2))
    w = Worker(services, worker_id="slow-worker")
    w._execute(job_id, "test.effect", "k", 1, {})
    assert w.stats.lost == 1 and _effects(services, job_id) == 0


@pytest.mark.slow
def test_sigkill_mid_job_loses_nothing_repeatedly(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = _worker_env(cli_env)
    for round_ in range(3):
        marker = tmp_path / f"started-{round_}"
        with services.db.transaction() as s:
            job_id = jobs.enqueue(
                s, "test.effect", {"stall_first_attempt": True, "marker": str(marker)}
            ).id
        proc = subprocess.Popen(
            [sys.executable, "-m", "clearinghouse", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline and proc.poll() is None, (
                "worker never started the job"
            )
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        job = _job(services, job_id)
        assert job.state == "running" and job.attempts == 1  # claimed, never finished
        assert _effects(services, job_id) == 0  # the killed attempt's effects rolled back
        time.sleep(2.2)  # let the lease expire
        done = run_until_idle(env)
        assert done.returncode == 0, done.stderr
        job = _job(services, job_id)
        assert job.state == "succeeded" and job.attempts == 2
        assert _effects(services, job_id) == 1


@pytest.mark.slow
def test_several_workers_run_each_job_exactly_once(
    services: Services, cli_env: dict[str, str]
) -> None:
    n = 30
    with services.db.transaction() as s:
        ids = [jobs.enqueue(s, "test.effect", {}).id for _ in range(n)]
    env = _worker_env(cli_env)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clearinghouse",
                "worker",
                "--until-idle",
                "--json",
                "--worker-id",
                f"w{i}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    assert sum(json.loads(o[0])["kinds"].get("test.effect", 0) for o in outs) == n
    with services.db.transaction() as s:
        states = s.scalars(select(Job.state).where(Job.id.in_(ids))).all()
    assert set(states) == {"succeeded"}
    assert _effects(services) == n


def test_worker_lapses_overdue_windows(
    world: World, client: TestClient, cli_env: dict[str, str]
) -> None:
    key = "sk-lapse-test-0123456789"
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    with openai_endpoint(key) as (endpoint, _):
        sid = world.submission(
            world.agreement(lab),
            lab_m,
            ev,
            endpoint_url=endpoint,
            api_key=key,
            release_in=timedelta(seconds=3),
        )
        assert (
            client.post(
                f"/api/v1/submissions/{sid}/verify-access", headers=lab_m.headers
            ).status_code
            == 200
        )
    sub = client.get(f"/api/v1/submissions/{sid}", headers=lab_m.headers).json()
    assert sub["window_shortened"] is True
    never_opened = world.submission(
        world.agreement(lab), lab_m, ev, release_in=timedelta(seconds=3)
    )
    time.sleep(3.2)
    # A day-long interval: both runs below fall in the same interval (with 60 s, a slow
    # machine could straddle a boundary, and the second run would rightly enqueue again).
    env = {
        **cli_env,
        "CLEARINGHOUSE_LOG_LEVEL": "WARNING",
        "CLEARINGHOUSE_PERIODIC_INTERVAL_SECONDS": "86400",
    }
    r = run_until_idle(env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kinds"]["reviews.lapse_windows"] == 1
    with world.services.db.transaction() as s:
        for submission_id in (sid, never_opened):
            row = s.get(Submission, submission_id)
            assert row is not None and row.state == "lapsed" and row.api_key_sealed_id is None
    # The periodic job is enqueued once per interval, however many workers run.
    r2 = run_until_idle(env)
    assert json.loads(r2.stdout)["kinds"] == {}


def test_sigterm_lets_the_current_job_finish(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    with services.db.transaction() as s:
        job_id = jobs.enqueue(
            s,
            "test.effect",
            {"stall_first_attempt": True, "stall_seconds": 2, "marker": str(marker)},
        ).id
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearinghouse", "worker"],
        env=_worker_env(cli_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    job = _job(services, job_id)
    assert job.state == "succeeded" and job.attempts == 1
    assert _effects(services, job_id) == 1
