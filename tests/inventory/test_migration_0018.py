"""Migration 0018 adds the inventory tables: an instance with an organisation and a record
upgrades on both databases, keeps every row, matches the models (no drift), and downgrades to
0017."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from clearinghouse.accounts.models import Org
from clearinghouse.container import metadata
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from clearinghouse.vulns.models import Vulnerability
from tests.support.databases import blank_database

NOW = datetime(2026, 12, 1, tzinfo=UTC)
NEW = {
    "inventory_assets",
    "inventory_sboms",
    "inventory_components",
    "inventory_exposures",
    "inventory_exposure_events",
}
ROWS: list[tuple[Any, dict[str, Any]]] = [
    (Org, {"id": "org_o", "name": "grid operator", "kind": "operator", "created_at": NOW}),
    (
        Vulnerability,
        {
            "id": "CH-2026-00001",
            "source_id": "GHSA-xxxx-yyyy-zzzz",
            "summary": "heap overflow",
            "details": "",
            "record": {"id": "GHSA-xxxx-yyyy-zzzz"},
            "status": "published",
            "tlp": "CLEAR",
            "modified": NOW,
            "created_at": NOW,
            "updated_at": NOW,
            "origin": "osv",
            "cwe_ids": [],
        },
    ),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with blank_database(request, tmp_path, "m0018") as url:
        yield url


def _dump(db: Database, table: Any) -> list[dict[str, Any]]:
    with db.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(table))]


def test_0018_adds_the_tables_keeps_every_row_matches_the_models_and_goes_back(
    blank_url: str,
) -> None:
    db = Database(blank_url)
    try:
        migrate.upgrade(db, "0017")
        with db.engine.begin() as c:
            for model, values in ROWS:
                c.execute(insert(model.__table__).values(**values))
        before = {m.__tablename__: _dump(db, m.__table__) for m, _ in ROWS}
        assert NEW.isdisjoint(inspect(db.engine).get_table_names())
        migrate.upgrade(db, "0018")
        assert NEW <= set(inspect(db.engine).get_table_names())
        assert {m.__tablename__: _dump(db, m.__table__) for m, _ in ROWS} == before
        migrate.upgrade(db)
        with db.engine.connect() as c:
            drift = [
                d
                for d in compare_metadata(MigrationContext.configure(c), metadata())
                if any(t in repr(d) for t in NEW)
            ]
        assert drift == []
        config = migrate.alembic_config(db.url)
        with db.engine.begin() as c:
            config.attributes["connection"] = c
            command.downgrade(config, "0017")
        assert NEW.isdisjoint(inspect(db.engine).get_table_names())
        assert {m.__tablename__: _dump(db, m.__table__) for m, _ in ROWS} == before
    finally:
        db.dispose()
