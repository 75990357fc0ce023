"""Migration 0008: `vulnerability_reports` keeps its eval-run columns but loses the foreign keys
into the eval tables (vulns imports no evals; evals files its findings through vulns' intake,
which checks the run). An instance with such reports upgrades, on both databases, and keeps
every row as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from clearinghouse.accounts.models import Org
from clearinghouse.container import metadata
from clearinghouse.evals.models import EvalRun, EvalVulnerabilityReport
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from clearinghouse.vulns.models import Vulnerability, VulnerabilityReport
from tests.support.databases import blank_database

NOW = datetime(2026, 11, 1, tzinfo=UTC)
EVAL_TABLES = {"eval_runs", "eval_vulnerability_reports"}


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with blank_database(request, tmp_path, "m0008") as url:
        yield url


ROWS: list[tuple[Any, dict[str, Any]]] = [
    (Org, {"id": "org_ev", "name": "evaluator", "kind": "evaluator", "created_at": NOW}),
    (
        EvalRun,
        {
            "id": "run_1",
            "evaluator_org_id": "org_ev",
            "model_spec": "openai-api/ref/m",
            "is_reference": True,
            "tasks": ["poc_asan"],
            "options": {},
            "state": "succeeded",
            "progress": {},
            "config": {},
            "results": {},
            "tier": {},
            "created_at": NOW,
        },
    ),
    (
        EvalVulnerabilityReport,
        {
            "id": "evr_1",
            "run_id": "run_1",
            "task": "poc_asan",
            "sample_id": "cwe787-level0",
            "epoch": 1,
            "target": "pkg:pypi/demo@1.0",
            "description": "heap overflow",
            "poc": "",
            "transcript_excerpt": "",
            "source": "eval",
            "status": "new",
            "created_at": NOW,
        },
    ),
    (
        Vulnerability,
        {
            "id": "CH-2026-00001",
            "source_id": "CH-2026-00001",
            "summary": "poc_asan: heap overflow",
            "details": "Reported by openai-api/ref/m in eval run run_1",
            "record": {"id": "CH-2026-00001"},
            "status": "new",
            "tlp": "AMBER+STRICT",
            "modified": NOW,
            "created_at": NOW,
            "updated_at": NOW,
            "origin": "report",
            "cwe_ids": [],
        },
    ),
    (
        VulnerabilityReport,
        {
            "id": "vrp_eval",
            "vuln_id": "CH-2026-00001",
            "reporter_org_id": "org_ev",
            "provenance": "eval_run",
            "model_name": "openai-api/ref/m",
            "eval_run_id": "run_1",
            "eval_report_id": "evr_1",
            "target_purl": "pkg:pypi/demo@1.0",
            "created_at": NOW,
        },
    ),
    (
        VulnerabilityReport,
        {
            "id": "vrp_human",
            "vuln_id": "CH-2026-00001",
            "provenance": "human",
            "target_purl": "pkg:pypi/demo@1.0",
            "created_at": NOW,
        },
    ),
]


def test_0008_drops_the_foreign_keys_into_evals_and_keeps_every_report(blank_url: str) -> None:
    db = Database(blank_url)
    try:
        migrate.upgrade(db, "0007")
        with db.engine.begin() as c:
            for model, values in ROWS:
                c.execute(insert(model.__table__).values(**values))
        before = _reports(db)
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head(db)
        assert _reports(db) == before  # every row, every column, as it was
        schema = inspect(db.engine)
        assert {
            fk["referred_table"] for fk in schema.get_foreign_keys("vulnerability_reports")
        } == {
            "vulnerabilities",
            "orgs",
            "users",
        }
        # What stays: the run column's index and the one report per staged finding.
        assert "ix_vulnerability_reports_eval_run_id" in {
            i["name"] for i in schema.get_indexes("vulnerability_reports")
        }
        unique = schema.get_unique_constraints("vulnerability_reports")
        assert [u["column_names"] for u in unique] == [["eval_report_id"]]
        # The models say the same as the migrated schema (no drift for this table).
        with db.engine.connect() as c:
            drift = [
                d
                for d in compare_metadata(MigrationContext.configure(c), metadata())
                if "vulnerability_reports" in repr(d)
            ]
        assert drift == []
        # The database no longer refuses a run id it does not know: intake checks it (vulns
        # intake/findings and reports.submit_report; tests/vulns/intake/test_findings.py).
        with db.engine.begin() as c:
            c.execute(
                insert(VulnerabilityReport.__table__).values(
                    id="vrp_unchecked",
                    vuln_id="CH-2026-00001",
                    provenance="eval_run",
                    eval_run_id="run_elsewhere",
                    created_at=NOW,
                )
            )
    finally:
        db.dispose()


def _reports(db: Database) -> list[dict[str, Any]]:
    table = VulnerabilityReport.__table__
    with db.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(table).order_by(table.c.id))]
