"""The case page's data for a case with 1,000 timeline events: p95 server latency.

A case over one reported record, with a vendor and an operators' sharing group, vendors notified,
then 1,000 messages posted through the API (each a timeline event, half of them TLP:AMBER and
half TLP:GREEN). "The case page" is what a page shows at once: the case (`GET /api/v1/cases/{id}`:
participants, vendor statuses, deadline, affected products), the first page of its timeline and
of its messages (50 each). Measured in-process through the ASGI app (the whole HTTP stack, the
policy, SQL), for three viewers: the coordinator, the vendor and the sharing group (whose
timeline and messages are filtered to its clearance in SQL).

Peer: the floor, the same rows read by three plain SQL queries (the case row, 50 timeline
rows, 50 message rows) with no HTTP, no policy and no serialisation. The ratio says what the
product's layers cost on top of the database.

    PYTHONPATH=src:. python bench/bench_case_page.py [events] [requests]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient
from tests.support.world import World

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median, pct

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.api.app import create_app
from clearinghouse.container import build_services
from clearinghouse.coordination.models import Case, Message, TimelineEvent
from clearinghouse.core.config import Environment, Settings
from clearinghouse.storage import migrate


def main(events: int = 1000, requests: int = 200) -> None:
    with tempfile.TemporaryDirectory(prefix="caseb") as tmp:
        settings = Settings(env=Environment.test, var_dir=Path(tmp), log_level="ERROR")  # type: ignore[call-arg]
        services = build_services(settings)
        migrate.upgrade(services.db)
        world = World(services)
        coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
        reporter = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
        vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
        group = world.member(world.org(OrgKind.operator), OrgKind.operator, Role.member)
        with TestClient(create_app(services)) as client:

            def post(who: object, path: str, body: dict[str, object]) -> dict[str, object]:
                r = client.post(path, json=body, headers=who.headers)  # type: ignore[attr-defined]
                assert r.status_code in (200, 201), r.text
                return dict(r.json())

            report = post(
                reporter,
                "/api/v1/reports",
                {
                    "title": "Heap overflow in tinyparse's header reader",
                    "description": "A crafted header overflows a heap buffer in tinyparse.",
                    "provenance": {"kind": "ai_model", "model_name": "m", "model_version": "1"},
                    "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
                },
            )
            case = post(
                coordinator,
                "/api/v1/cases",
                {"vuln_ids": [report["vuln_id"]], "title": "tinyparse", "tlp": "GREEN"},
            )
            cid = case["id"]
            for org, role in ((vendor.org_id, "vendor"), (group.org_id, "operator_group")):
                post(
                    coordinator,
                    f"/api/v1/cases/{cid}/participants",
                    {"org_id": org, "role": role},
                )
            post(coordinator, f"/api/v1/cases/{cid}/transition", {"to": "vendors_notified"})
            started = time.perf_counter()
            for i in range(events):
                who = vendor if i % 3 else coordinator
                label = "AMBER" if i % 2 else "GREEN"
                post(who, f"/api/v1/cases/{cid}/messages", {"body": f"note {i}", "tlp": label})
            setup_s = time.perf_counter() - started
            with services.db.reading() as s:
                n_events = len(
                    s.scalars(select(TimelineEvent.id).where(TimelineEvent.case_id == cid)).all()
                )

            def page(who: object) -> float:
                t0 = time.perf_counter()
                for path in (
                    f"/api/v1/cases/{cid}",
                    f"/api/v1/cases/{cid}/timeline?limit=50",
                    f"/api/v1/cases/{cid}/messages?limit=50",
                ):
                    r = client.get(path, headers=who.headers)  # type: ignore[attr-defined]
                    assert r.status_code == 200, r.text
                return time.perf_counter() - t0

            def floor() -> float:
                t0 = time.perf_counter()
                with services.db.reading() as s:
                    s.get(Case, cid)
                    s.execute(
                        select(TimelineEvent)
                        .where(TimelineEvent.case_id == cid)
                        .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
                        .limit(50)
                    ).all()
                    s.execute(
                        select(Message).where(Message.case_id == cid).order_by(Message.id).limit(50)
                    ).all()
                return time.perf_counter() - t0

            for who in (coordinator, vendor, group):  # warm-up
                page(who)
            floors = [floor() for _ in range(requests)]
            print(f"machine: {machine()}")
            print(
                f"case with {n_events} timeline events ({events} messages posted in {setup_s:.1f}s)"
            )
            print(
                f"peer (three plain SQL queries): p50 {median(floors) * 1e3:.2f} ms, p95 {pct(floors, 0.95) * 1e3:.2f} ms"
            )
            for name, who in (
                ("coordinator", coordinator),
                ("vendor", vendor),
                ("sharing group", group),
            ):
                times = [page(who) for _ in range(requests)]
                p95 = pct(times, 0.95)
                print(
                    f"{name:>14}: p50 {median(times) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms "
                    f"(x{p95 / pct(floors, 0.95):.0f} the peer's p95)"
                )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
