"""Server time of the heaviest web pages at scale (issue 16): 100k vulnerability records and 1M
exposures in SQLite, the pages rendered in-process through the ASGI app (sign-in session, policy,
SQL, templates), p50/p95 over REQUESTS requests each. Target: p95 < 200 ms.

- `/operator/exposures` (first page, Act first) for an operator holding all 1M exposures, and
  the same page filtered (`ssvc=Act&status=open`) and paged (its second page by cursor);
- `/triage` for a coordinator, with 300 reports in the queue among the 100k records.

Not measured here: a run's report page (it needs a real eval run). Peer: the floor, the page's
rows read by one plain SQL query (the exposures' first page in priority order), with no HTTP,
policy, or template.

    PYTHONPATH=src:. python bench/bench_pages.py [records] [exposures] [requests]
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from starlette.testclient import TestClient
from tests.support.web import sign_in
from tests.support.world import World

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_csaf_provider import record
from common import machine, median, pct

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.app import create_app
from clearinghouse.container import build_services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Environment, Settings
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import Component, Exposure, Sbom
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.storage import migrate
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.records import upsert_batch

SSVC = (("Act", 0), ("Attend", 1), ("Track*", 2), ("Track", 3))
SEVERITY = ("critical", "high", "medium", "low")


def timed(client: TestClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return out


def main(n_records: int = 100_000, n_exposures: int = 1_000_000, requests: int = 50) -> None:
    with tempfile.TemporaryDirectory(prefix="pageb") as tmp:
        settings = Settings(env=Environment.test, var_dir=Path(tmp), log_level="ERROR")  # type: ignore[call-arg]
        services = build_services(settings)
        migrate.upgrade(services.db)
        world = World(services)
        t0 = time.perf_counter()
        for start in range(0, n_records, 5000):
            with services.db.transaction() as s:
                upsert_batch(s, [record(i) for i in range(start, min(n_records, start + 5000))])
        with services.db.reading() as s:
            vuln_ids = list(s.scalars(select(Vulnerability.id).order_by(Vulnerability.id)))
        print(f"{len(vuln_ids)} records imported in {time.perf_counter() - t0:.0f}s")

        org = world.org(OrgKind.operator)
        operator = world.member(org, OrgKind.operator, Role.member)
        with services.db.transaction() as s:
            body = AssetCreate.model_validate(
                {"org_id": org, "name": "plant", "sector": "energy", "criticality": "high"}
            )
            asset = assets.create_asset(s, Principal.system(), body).id
        now = utcnow()
        n_components = 1000
        per_component = max(1, n_exposures // n_components)
        t0 = time.perf_counter()
        with services.db.transaction() as s:
            s.execute(
                insert(Sbom),
                [
                    {
                        "id": "sbm_bench",
                        "asset_id": asset,
                        "seq": 1,
                        "format": "cyclonedx",
                        "spec_version": "1.6",
                        "media": "json",
                        "sha256": "0" * 64,
                        "component_count": n_components,
                        "unmatched_count": 0,
                        "uploaded_at": now,
                        "uploaded_by": operator.user_id,
                        "superseded_at": None,
                        "diff": {},
                    }
                ],
            )
            s.execute(
                insert(Component),
                [
                    {
                        "id": f"cmp_{c:06d}",
                        "sbom_id": "sbm_bench",
                        "asset_id": asset,
                        "purl": f"pkg:pypi/bench-{c}@1.0",
                        "ecosystem": "PyPI",
                        "name": f"bench-{c}",
                        "version": "1.0",
                        "bom_ref": None,
                        "unmatched_reason": None,
                    }
                    for c in range(n_components)
                ],
            )
        made = 0
        for c in range(n_components):
            rows = []
            for k in range(per_component):
                v = vuln_ids[(c * per_component + k) % len(vuln_ids)]
                outcome, rank = SSVC[(c + k) % 4]
                rows.append(
                    {
                        "id": f"exp_{made:08d}",
                        "asset_id": asset,
                        "org_id": org,
                        "component_id": f"cmp_{c:06d}",
                        "vuln_id": v,
                        "purl": f"pkg:pypi/bench-{c}@1.0",
                        "version": "1.0",
                        "severity": SEVERITY[k % 4],
                        "cvss_score": None,
                        "kev": k % 50 == 0,
                        "epss": None,
                        "fixed_in": "1.2",
                        "ssvc": outcome,
                        "ssvc_rank": rank,
                        "ssvc_inputs": {"table": "bench"},
                        "due_at": now + timedelta(days=(c + k) % 90),
                        "status": "open",
                        "justification": None,
                        "detail": "full",
                        "opened_at": now,
                        "closed_at": None,
                        "updated_at": now,
                    }
                )
                made += 1
            with services.db.transaction() as s:
                s.execute(insert(Exposure), rows)
        print(f"{made} exposures inserted in {time.perf_counter() - t0:.0f}s")

        coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
        reporter = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
        with TestClient(create_app(services)) as api:
            for i in range(300):
                r = api.post(
                    "/api/v1/reports",
                    headers=reporter.headers,
                    json={
                        "title": f"Overflow number {i} in the bench parser",
                        "description": f"A crafted input overflows buffer {i} in bench-{i}.",
                        "provenance": {"kind": "ai_model", "model_name": "m", "model_version": "1"},
                        "target": {"purl": f"pkg:pypi/bench-{i}@1.0"},
                    },
                )
                assert r.status_code == 201, r.text
        with TestClient(create_app(services)) as op, TestClient(create_app(services)) as co:
            sign_in(op, services, operator)
            sign_in(co, services, coordinator)
            first = op.get("/operator/exposures")
            assert first.status_code == 200, first.text[:300]
            cursor = re.search(r'href="[^"]*[?&]cursor=([^"&]+)', first.text)
            pages = {
                "/operator/exposures (first page)": (op, "/operator/exposures"),
                "/operator/exposures?ssvc=Act&status=open": (
                    op,
                    "/operator/exposures?ssvc=Act&status=open",
                ),
                "/triage (300 reports, 100k records)": (co, "/triage"),
            }
            if cursor:
                pages["/operator/exposures (second page)"] = (
                    op,
                    f"/operator/exposures?cursor={cursor.group(1)}",
                )

            def floor() -> float:
                t = time.perf_counter()
                with services.db.reading() as s:
                    s.execute(
                        select(Exposure)
                        .where(Exposure.org_id == org)
                        .order_by(Exposure.ssvc_rank, Exposure.due_at, Exposure.id)
                        .limit(50)
                    ).all()
                return time.perf_counter() - t

            floors = [floor() for _ in range(requests)]
            print(f"machine: {machine()}")
            print(
                f"peer (the first page's rows, one SQL query): p50 {median(floors) * 1e3:.1f} ms, "
                f"p95 {pct(floors, 0.95) * 1e3:.1f} ms"
            )
            for name, (client, path) in pages.items():
                timed(client, path, 3)  # warm
                times = timed(client, path, requests)
                p95 = pct(times, 0.95)
                verdict = "meets" if p95 < 0.2 else "misses"
                print(
                    f"{name}: p50 {median(times) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms "
                    f"({verdict} the 200 ms target)"
                )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
