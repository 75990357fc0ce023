"""Notification fan-out: one event to 10k subscribers (webhook endpoints), in SQLite.

Figures: the time to enqueue (emit in the emitting transaction, then the fan-out job's one
transaction that writes 10k deliveries and 10k delivery jobs), and deliveries per second to a
local receiver on 127.0.0.1 (real signed POSTs through the outbound policy, each recorded and
audited), measured on a bounded sample of the queue. Medians of ROUNDS runs.
Setup shortcut: the 10k endpoints (100 organisations x 100) share one sealed secret, inserted
in bulk; delivery reveals it per attempt exactly as with one secret each.

    PYTHONPATH=src:. python bench/bench_notifications.py [subscribers] [sample]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, update
from tests.notifications.support import receiver

from clearinghouse.accounts.models import Org
from clearinghouse.container import build_services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Environment, Settings
from clearinghouse.core.ids import new_id
from clearinghouse.core.tlp import Tlp
from clearinghouse.notifications.fanout import fan_out
from clearinghouse.notifications.models import WebhookEndpoint
from clearinghouse.notifications.outbox import EVERYONE, Variant, emit
from clearinghouse.storage import migrate
from clearinghouse.storage.jobs import Job
from clearinghouse.workers.runner import Worker

ROUNDS = 3


def main(subscribers: int = 10_000, sample: int = 300) -> None:
    enqueue_s: list[float] = []
    rates: list[float] = []
    with receiver() as rx:
        for _ in range(ROUNDS):
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(env=Environment.test, var_dir=Path(tmp), log_level="ERROR")  # type: ignore[call-arg]
                services = build_services(settings)
                migrate.upgrade(services.db)
                now = utcnow()
                with services.db.transaction() as s:
                    secret = services.vault.seal_text(s, "whsec_" + "A" * 43 + "=", purpose="bench")
                    orgs = [new_id("org") for _ in range(max(1, subscribers // 100))]
                    s.execute(
                        insert(Org),
                        [{"id": o, "name": o, "kind": "operator", "created_at": now} for o in orgs],
                    )
                    s.execute(
                        insert(WebhookEndpoint),
                        [
                            {
                                "id": new_id("whk"),
                                "org_id": orgs[i % len(orgs)],
                                "url": rx.url,
                                "events": ["*"],
                                "purl_prefixes": [],
                                "min_severity": None,
                                "secret_id": secret.id,
                                "active": True,
                                "created_at": now,
                            }
                            for i in range(subscribers)
                        ],
                    )
                started = time.perf_counter()
                with services.db.transaction() as s:
                    n = emit(
                        s,
                        "vuln.published",
                        "CH-1",
                        {"p": Variant({"summary": "x"}, Tlp.clear)},
                        {EVERYONE: "p"},
                    )
                with services.db.transaction() as s:
                    counts = fan_out(s, n.id, 3)
                enqueue_s.append(time.perf_counter() - started)
                assert counts["webhook"] == subscribers, counts
                with services.db.transaction() as s:  # the fan-out job itself is done
                    s.execute(
                        update(Job)
                        .where(Job.kind == "notifications.fanout")
                        .values(state="succeeded")
                    )
                worker = Worker(services)
                before = len(rx.requests)
                started = time.perf_counter()
                for _ in range(sample):
                    worker.run_once()
                rates.append(sample / (time.perf_counter() - started))
                assert len(rx.requests) - before == sample
                services.db.dispose()
    print(f"subscribers: {subscribers}, rounds: {ROUNDS}")
    print(
        f"enqueue (emit + fan-out) seconds: median {statistics.median(enqueue_s):.2f} {[round(x, 2) for x in enqueue_s]}"
    )
    print(
        f"deliveries/s to 127.0.0.1 (sample {sample}): median {statistics.median(rates):.0f} {[round(x) for x in rates]}"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
