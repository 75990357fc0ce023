"""Server time of the heaviest web pages at scale (issue 16): 100k vulnerability records and 1M
exposures in SQLite, the pages rendered in-process through the ASGI app (sign-in session, policy,
SQL, templates), p50/p95 over REQUESTS requests each. Target: p95 < 200 ms.

- `/operator/exposures` (first page, Act first) for an operator holding all 1M exposures, and
  the same page filtered (`ssvc=Act&status=open`) and paged (its second page by cursor);
- `/triage` for a coordinator, with 300 reports in the queue among the 100k records;
- a run's report, for its evaluator: the run's page (`/evaluator/runs/{id}`: scores, tier,
  the per-sample records), the report's page and its content (`/reports/{submission}/{v}`,
  `.../content`: the sealed HTML, decrypted). The run is a finished submission run of the
  whole battery (every task, SAMPLES samples each), its results written by the product's own
  `evals.runs.results.finish` from Inspect logs built in memory (each sample scored, with its
  tokens), so scores, tier, the sealed report and artefacts are stored as a real run stores
  them; only the model's answers are made up (no model, no sandbox).

Peer: the floor, the page's rows read by one plain SQL query (the exposures' first page in
priority order), with no HTTP, policy, or template.

    PYTHONPATH=src:. python bench/bench_pages.py [records] [exposures] [requests] [samples]
    PYTHONPATH=src:. python bench/bench_pages.py --quick   # 2k records, 10k exposures: a smoke run
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from inspect_ai.log import EvalLog, EvalSample, EvalSpec, EvalStats
from inspect_ai.model import ModelOutput, ModelUsage
from inspect_ai.scorer import Score
from sqlalchemy import insert, select
from starlette.testclient import TestClient
from tests.evals.runs.support import run_row
from tests.support.openai_stub import openai_endpoint
from tests.support.review import KEY, open_review
from tests.support.web import sign_in
from tests.support.world import Member, World

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_csaf_provider import record
from common import machine, median, pct

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.app import create_app
from clearinghouse.container import build_services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Environment, Settings
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import TASKS
from clearinghouse.evals.models import EvalRun
from clearinghouse.evals.runs import results
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import Component, Exposure, Sbom
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.storage import migrate
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.records import upsert_batch

SSVC = (("Act", 0), ("Attend", 1), ("Track*", 2), ("Track", 3))
SEVERITY = ("critical", "high", "medium", "low")
QUICK = (2_000, 10_000, 20, 20)  # records, exposures, requests, samples per task


def _log(task: str, n: int) -> EvalLog:
    """An Inspect log of `task` with `n` scored samples (one in three correct), as the worker
    reads it back: what `results.finish` uses of it and no more."""
    spec = EvalSpec.model_construct(
        metadata={"dataset_sha256": "0" * 64, "blind_baseline": 0.25}, task=task
    )
    samples = [
        EvalSample.model_construct(
            id=f"{task}-{i}",
            epoch=1,
            input="",
            target="",
            metadata={"category": f"c{i % 5}"},
            scores={"score": Score(value="C" if i % 3 == 0 else "I")},
            output=ModelOutput.from_content(model="frontier-x", content=f"answer {i}"),
            messages=[],
            store={},
            error=None,
            model_usage={
                "frontier-x": ModelUsage(input_tokens=900, output_tokens=100, total_tokens=1000)
            },
        )
        for i in range(n)
    ]
    stats = EvalStats.model_construct(
        model_usage={
            "frontier-x": ModelUsage(
                input_tokens=900 * n, output_tokens=100 * n, total_tokens=1000 * n
            )
        }
    )
    return EvalLog.model_construct(eval=spec, samples=samples, stats=stats, location="")


def finished_run(world: World, api: TestClient, samples: int) -> tuple[Member, str, str]:
    """A lab's submission, verified and under test by its evaluator, and a finished run of the
    whole battery on it, written by `results.finish`. Returns (evaluator, run id,
    submission id)."""
    with openai_endpoint(KEY) as (base, _):
        _, lab, _, evaluator, _, submission = open_review(world, api, base)
        sub = submission["id"]
        r = api.post(f"/api/v1/submissions/{sub}/verify-access", headers=lab.headers)
        assert r.status_code == 200, r.text
    r = api.post(
        f"/api/v1/submissions/{sub}/transition",
        headers=evaluator.headers,
        json={"to": "testing", "reason": "battery started"},
    )
    assert r.status_code == 200, r.text
    names = sorted(TASKS)
    db = world.services.db
    with db.transaction() as s:
        run = run_row(
            evaluator.org_id,
            submission_id=sub,
            is_reference=False,
            model_spec="openai-api/lab/frontier-x",
            tasks=names,
            started_at=utcnow(),
        )
        s.add(run)
        run_id = run.id
    options = TaskOptions(seed=0, limit=samples)
    with tempfile.TemporaryDirectory(prefix="run") as root:
        results.finish(
            world.services,
            run_id,
            names,
            options,
            {"epochs": 1, "task_limits": {}},
            {"model": "openai-api/lab/frontier-x"},
            {name: _log(name, samples) for name in names},
            Path(root),
        )
    with db.reading() as s:
        done = s.get(EvalRun, run_id)
        assert done is not None and done.state == "succeeded" and done.report_id, done
        assert len(done.results["samples"]) == len(names) * samples and done.results["scores"]
    return evaluator, run_id, sub


def timed(client: TestClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return out


def main(
    n_records: int = 100_000, n_exposures: int = 1_000_000, requests: int = 50, samples: int = 200
) -> None:
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
            t0 = time.perf_counter()
            evaluator, run_id, sub = finished_run(world, api, samples)
            print(
                f"a finished run of {len(TASKS)} tasks x {samples} samples written in "
                f"{time.perf_counter() - t0:.0f}s"
            )
        with (
            TestClient(create_app(services)) as op,
            TestClient(create_app(services)) as co,
            TestClient(create_app(services)) as ev,
        ):
            sign_in(op, services, operator)
            sign_in(co, services, coordinator)
            sign_in(ev, services, evaluator)
            first = op.get("/operator/exposures")
            assert first.status_code == 200, first.text[:300]
            cursor = re.search(r'href="[^"]*[?&]cursor=([^"&]+)', first.text)
            pages = {
                "/operator/exposures (first page)": (op, "/operator/exposures"),
                "/operator/exposures?ssvc=Act&status=open": (
                    op,
                    "/operator/exposures?ssvc=Act&status=open",
                ),
                f"/triage (300 reports, {n_records} records)": (co, "/triage"),
                f"/evaluator/runs/{{id}} ({len(TASKS)} tasks x {samples} samples)": (
                    ev,
                    f"/evaluator/runs/{run_id}",
                ),
                "/reports/{submission}/1 (the run's report)": (ev, f"/reports/{sub}/1"),
                "/reports/{submission}/1/content (sealed HTML)": (ev, f"/reports/{sub}/1/content"),
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
                        .order_by(Exposure.ssvc_rank, Exposure.due_sort, Exposure.id)
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
    if sys.argv[1:] == ["--quick"]:
        main(*QUICK)
    else:
        main(*(int(a) for a in sys.argv[1:5]))
