"""A worker SIGKILLed after sending a webhook and before recording it loses no message, and the
redelivery carries the same webhook-id (the receiver's idempotency key)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.notifications.models import Delivery
from clearinghouse.storage.services import Services
from tests.notifications.support import Received, drain, emit_public, receiver
from tests.support.world import World


@pytest.mark.slow
def test_sigkill_between_sending_and_recording_redelivers_with_the_same_id(
    client: TestClient, world: World, services: Services, cli_env: dict[str, str]
) -> None:
    admin = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin)
    worker: list[subprocess.Popen[bytes]] = []

    def kill_the_sender(_: Received) -> None:
        if worker and worker[0].poll() is None:
            os.kill(worker[0].pid, signal.SIGKILL)  # it sent; it never records the answer

    with receiver(on_request=kill_the_sender) as rx:
        hook = client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": rx.url, "events": ["*"]}
        ).json()
        emit_public(services)
        env = {
            **cli_env,
            "CLEARINGHOUSE_JOB_LEASE_SECONDS": "2",
            "CLEARINGHOUSE_JOB_HEARTBEAT_SECONDS": "0.5",
            "CLEARINGHOUSE_WORKER_POLL_SECONDS": "0.1",
            "CLEARINGHOUSE_PERIODIC_INTERVAL_SECONDS": "3600",
            "CLEARINGHOUSE_LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "clearinghouse", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker.append(proc)
        deadline = time.monotonic() + 60
        while not rx.requests:
            assert time.monotonic() < deadline, "the worker never sent the webhook"
            time.sleep(0.05)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        with services.db.transaction() as s:
            d = s.scalars(select(Delivery)).one()
            assert d.status == "pending"  # sent, but the crash left it unrecorded
        time.sleep(2.5)  # the dead worker's lease expires
        drain(services)
    assert len(rx.requests) == 2
    assert rx.ids() == [d.id, d.id]
    for got in rx.requests:
        Webhook(hook["secret"]).verify(got.body, got.headers)
    assert rx.requests[0].body == rx.requests[1].body
    with services.db.transaction() as s:
        done = s.get(Delivery, d.id)
        assert done is not None and done.status == "delivered" and done.attempts == 2
