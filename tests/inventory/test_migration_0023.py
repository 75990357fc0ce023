"""Migration 0023 stores the exposures listing's sort keys: on both databases, exposures written
before it (undecided, undated, decided and dated) get `ssvc_rank` 9 when undecided and
`due_sort` = their due date or 9999-12-31, every row and value kept; the listing's indexes
replace the old ones; the downgrade gives back 0022's table exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import column as col
from sqlalchemy import insert as sql_insert
from sqlalchemy import inspect, select, table

from clearinghouse.inventory.models import Asset, Component, Exposure, Sbom
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from tests.inventory.test_migration_0018 import ROWS
from tests.support.databases import blank_database

NOW = datetime(2026, 12, 1, tzinfo=UTC)
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
TABLE = "inventory_exposures"
PARENTS: list[tuple[Any, dict[str, Any]]] = [
    *ROWS,
    (
        Asset,
        {
            "id": "ast_1",
            "org_id": "org_o",
            "name": "plant",
            "sector": "energy",
            "criticality": "high",
            "created_at": NOW,
        },
    ),
    (
        Sbom,
        {
            "id": "sbm_1",
            "asset_id": "ast_1",
            "seq": 1,
            "format": "cyclonedx",
            "spec_version": "1.5",
            "media": "json",
            "sha256": "0" * 64,
            "uploaded_at": NOW,
            "diff": {},
        },
    ),
]
# (id, ssvc, ssvc_rank, due_at) as 0018-0022 wrote them: NULL rank when undecided
EXPOSURES = [
    ("exp_undecided_undated", None, None, None),
    ("exp_undecided_dated", None, None, NOW + timedelta(days=3)),
    ("exp_act_undated", "Act", 0, None),
    ("exp_track_dated", "Track", 3, NOW + timedelta(days=1)),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with blank_database(request, tmp_path, "m0023") as url:
        yield url


def _exposure(eid: str, outcome: str | None, rank: int | None, due: datetime | None) -> Any:
    return {
        "id": eid,
        "asset_id": "ast_1",
        "org_id": "org_o",
        "component_id": f"cmp_{eid}",
        "vuln_id": "CH-2026-00001",
        "severity": "high",
        "kev": False,
        "ssvc": outcome,
        "ssvc_rank": rank,
        "due_at": due,
        "status": "open",
        "detail": "full",
        "opened_at": NOW,
        "updated_at": NOW,
    }


def _rows(db: Database, *names: str) -> dict[str, tuple[Any, ...]]:
    columns = [Exposure.__table__.c[n] for n in ("id", *names)]
    with db.engine.connect() as c:
        return {r[0]: tuple(r[1:]) for r in c.execute(select(*columns))}


def _indexes(db: Database) -> dict[str, list[str]]:
    return {
        str(i["name"]): [str(n) for n in i["column_names"]]
        for i in inspect(db.engine).get_indexes(TABLE)
    }


def test_0023_backfills_the_sort_keys_indexes_them_and_goes_back(blank_url: str) -> None:
    db = Database(blank_url)
    try:
        migrate.upgrade(db, "0022")
        old = table(TABLE, *(col(k) for k in _exposure("x", None, None, None)))
        with db.engine.begin() as c:
            for model, values in PARENTS:
                c.execute(sql_insert(model.__table__).values(**values))
            for eid, *_ in EXPOSURES:
                c.execute(
                    sql_insert(Component.__table__).values(
                        id=f"cmp_{eid}", sbom_id="sbm_1", asset_id="ast_1"
                    )
                )
            c.execute(sql_insert(old), [_exposure(*e) for e in EXPOSURES])
        before = _rows(db, "ssvc", "ssvc_rank", "due_at", "status", "updated_at")
        indexes_before = _indexes(db)

        migrate.upgrade(db, "0023")
        assert _rows(db, "ssvc_rank", "due_sort") == {
            "exp_undecided_undated": (9, NO_DUE),
            "exp_undecided_dated": (9, NOW + timedelta(days=3)),
            "exp_act_undated": (0, NO_DUE),
            "exp_track_dated": (3, NOW + timedelta(days=1)),
        }
        kept = _rows(db, "ssvc", "due_at", "status", "updated_at")
        assert kept == {k: (v[0], *v[2:]) for k, v in before.items()}
        columns = {c["name"]: c for c in inspect(db.engine).get_columns(TABLE)}
        assert not columns["ssvc_rank"]["nullable"] and not columns["due_sort"]["nullable"]
        indexes = _indexes(db)
        assert indexes["ix_inventory_exposures_org_priority"] == [
            "org_id",
            "ssvc_rank",
            "due_sort",
            "id",
        ]
        assert indexes["ix_inventory_exposures_priority"] == ["ssvc_rank", "due_sort", "id"]
        assert "ix_inventory_exposures_org_status" not in indexes
        # the database derives due_sort from now on: a plain UPDATE of due_at moves it
        with db.engine.begin() as c:
            c.execute(
                Exposure.__table__.update()
                .where(Exposure.id == "exp_act_undated")
                .values(due_at=NOW)
            )
        assert _rows(db, "due_sort")["exp_act_undated"] == (NOW,)

        config = migrate.alembic_config(db.url)
        with db.engine.begin() as c:
            config.attributes["connection"] = c
            command.downgrade(config, "0022")
        assert "due_sort" not in {c["name"] for c in inspect(db.engine).get_columns(TABLE)}
        assert _indexes(db) == indexes_before
        after = _rows(db, "ssvc", "ssvc_rank", "due_at", "status", "updated_at")
        assert after == {**before, "exp_act_undated": ("Act", 0, NOW, "open", NOW)}
    finally:
        db.dispose()
