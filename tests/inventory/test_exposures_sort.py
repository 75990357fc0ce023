"""The exposures listing is served by an index (issue 16: /operator/exposures at 1M exposures):
its sort keys are stored, non-null columns (`ssvc_rank`, 9 when undecided; `due_sort`, the due
date or 9999-12-31 when none), so no page sorts an operator's rows. Proved by the database's own
plans of the exact SQL the listing runs, on SQLite and PostgreSQL; the order and the cursor stay
right with undecided and undated rows mixed in; and `due_sort` equals the due date after every
writer: matching, prioritisation, the KEV/EPSS reprioritisation, a VEX, and bulk SQL statements
that bypass the ORM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, update
from sqlalchemy.engine import Engine

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory import epss, exposures, ssvc
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.prioritise_tasks import request_reprioritise
from clearinghouse.inventory.sboms.intake import upload
from tests.inventory.exposure_support import exposure, import_record, kev_listed, osv_doc
from tests.inventory.support import cyclonedx, drain, operator_with_asset
from tests.support.world import Member, World

NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
EPSS = Path(__file__).parents[1] / "data" / "epss" / "epss_scores-2025-03-16.csv"


@contextmanager
def listing_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The listing queries (exposures, ordered, limited) the code runs while inside, as the
    driver received them (SQL text and bound parameters)."""
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        flat = " ".join(statement.split())
        if "FROM inventory_exposures" in flat and "ORDER BY" in flat and "LIMIT" in flat:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def plan(engine: Engine, statement: str, params: Any) -> str:
    """The database's plan of one statement. PostgreSQL is asked with sequential scans and
    sorts priced out: on a test-sized table a scan and a sort are cheapest, so its choice says
    nothing; priced out, a Sort or Seq Scan is still chosen when no index can give the order,
    which is exactly the question."""
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            return "\n".join(str(r[-1]) for r in rows)
        c.exec_driver_sql("SET LOCAL enable_seqscan = off")
        c.exec_driver_sql("SET LOCAL enable_sort = off")
        rows = c.exec_driver_sql(f"EXPLAIN {statement}", params).all()
        return "\n".join(str(r[0]) for r in rows)


def assert_served_by_an_index(engine: Engine, statement: str, params: Any) -> None:
    text = plan(engine, statement, params)
    if engine.dialect.name == "sqlite":
        assert "TEMP B-TREE" not in text, text  # no sort of the rows
        assert "USING INDEX" in text or "USING COVERING INDEX" in text, text
    else:
        assert "Sort" not in text, text
        assert "Seq Scan" not in text, text
        assert "Index" in text, text


@pytest.fixture
def mixed(world: World) -> dict[str, Any]:
    """An operator with exposures of every rank, dated and undated, undecided among them; a
    second operator's rows around them (the index must not mix operators)."""
    member, asset = operator_with_asset(world)
    _other, other_asset = operator_with_asset(world)
    now = utcnow()
    rows: list[tuple[str, str | None, datetime | None]] = []
    with world.services.db.transaction() as s:
        v = import_record(s, osv_doc("PYSEC-2026-600"))
        for n, outcome in enumerate([None, "Act", "Track", None, "Attend", "Track*", "Act"]):
            for due in (now + timedelta(days=n + 1), None, now + timedelta(days=1)):
                status = "open" if n % 2 == 0 else "in_progress"
                eid = exposure(s, asset, v, ssvc=outcome, due_at=due, status=status)
                rows.append((eid, outcome, due))
                exposure(s, other_asset, v, ssvc=outcome, due_at=due)
    return {"member": member, "rows": rows}


def _expected(rows: list[tuple[str, str | None, datetime | None]]) -> list[str]:
    """The listing's order, written out: Act, Attend, Track*, Track, undecided; then due date,
    none last; then id."""
    priority = {"Act": 0, "Attend": 1, "Track*": 2, "Track": 3}

    def key(r: tuple[str, str | None, datetime | None]) -> tuple[int, datetime, str]:
        return priority.get(r[1] or "", 9), r[2] or NO_DUE, r[0]

    return [r[0] for r in sorted(rows, key=key)]


def _as(m: Member) -> Principal:
    return Principal(m.user_id, m.org_id, m.kind, m.role)


def _pages(world: World, p: Principal, limit: int, **filters: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        with world.services.db.reading() as s:
            page = exposures.list_exposures(s, p, limit=limit, cursor=cursor, **filters)
        ids += [e.id for e in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_order_and_cursor_with_undecided_and_undated_rows(
    world: World, mixed: dict[str, Any]
) -> None:
    p = _as(mixed["member"])
    expected = _expected(mixed["rows"])
    for limit in (1, 2, 5, 200):
        assert _pages(world, p, limit) == expected
    assert _pages(world, p, 3, status="open") == [
        i for i in expected if i in {r[0] for n, r in enumerate(mixed["rows"]) if n // 3 % 2 == 0}
    ]
    tracks = [i for i in expected if i in {r[0] for r in mixed["rows"] if r[1] == "Track"}]
    for outcome in ("Act", "Track"):
        assert _pages(world, p, 2, ssvc_outcome=outcome) == [
            i for i in expected if i in {r[0] for r in mixed["rows"] if r[1] == outcome}
        ]
    # a cursor from the unfiltered listing (an Act row), reused under a rank filter: the rows
    # of a later rank all follow it, those of an earlier rank none
    with world.services.db.reading() as s:
        act_cursor = exposures.list_exposures(s, p, limit=1).next_cursor
        after = exposures.list_exposures(
            s, p, limit=200, cursor=act_cursor, ssvc_outcome="Track"
        ).items
        assert [e.id for e in after] == tracks
        tail = exposures.list_exposures(s, p, limit=1, cursor=None, ssvc_outcome="Track")
        assert tail.next_cursor is not None
        assert (
            exposures.list_exposures(s, p, cursor=tail.next_cursor, ssvc_outcome="Act").items == []
        )


@pytest.mark.parametrize(
    "filters",
    [
        {},  # the operator page's default: no filter
        {"status": "open"},
        {"status": "open", "ssvc_outcome": "Act"},  # the dashboard panel's
        {"ssvc_outcome": "Attend"},
    ],
    ids=["first-page", "status-open", "status-open-act", "ssvc"],
)
def test_an_operators_pages_are_read_in_index_order_without_a_sort(
    world: World, mixed: dict[str, Any], filters: dict[str, Any]
) -> None:
    engine = world.services.db.engine
    p = _as(mixed["member"])
    with world.services.db.reading() as s:
        first = exposures.list_exposures(s, p, limit=2, **filters)
    assert first.next_cursor is not None
    with listing_sql(engine) as seen, world.services.db.reading() as s:
        exposures.list_exposures(s, p, limit=2, **filters)
        exposures.list_exposures(s, p, limit=2, cursor=first.next_cursor, **filters)
    assert len(seen) == 2
    for statement, params in seen:  # the first page, then the next one by cursor
        assert_served_by_an_index(engine, statement, params)


def test_a_coordinators_listing_of_every_operator_is_served_by_an_index(
    world: World, mixed: dict[str, Any]
) -> None:
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    engine = world.services.db.engine
    with world.services.db.reading() as s:
        first = exposures.list_exposures(s, _as(coordinator), limit=2)
    assert first.next_cursor is not None
    with listing_sql(engine) as seen, world.services.db.reading() as s:
        exposures.list_exposures(s, _as(coordinator), limit=2)
        exposures.list_exposures(s, _as(coordinator), limit=2, cursor=first.next_cursor)
    assert len(seen) == 2
    for statement, params in seen:
        assert_served_by_an_index(engine, statement, params)


def _sort_keys_hold(world: World) -> int:
    """Every exposure's stored sort keys against its values; returns how many were checked."""
    with world.services.db.reading() as s:
        rows = s.execute(
            select(
                Exposure.id, Exposure.ssvc, Exposure.ssvc_rank, Exposure.due_at, Exposure.due_sort
            )
        ).all()
    for eid, outcome, rank, due_at, due_sort in rows:
        assert rank == ssvc.rank(outcome), (eid, outcome, rank)
        assert due_sort == (due_at or NO_DUE), (eid, due_at, due_sort)
    return len(rows)


def test_every_writer_keeps_the_sort_keys_equal_to_the_values(
    client: TestClient, world: World
) -> None:
    svc = world.services
    member, asset = operator_with_asset(world)
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2026-610", "kevlib", aliases=("CVE-2021-44228",)))
        import_record(s, osv_doc("PYSEC-2026-611", "epsslib", aliases=("CVE-2024-3094",)))
        import_record(s, osv_doc("PYSEC-2026-612", "vexlib", aliases=("CVE-2026-0612",)))
        purls = ("pkg:pypi/kevlib@1.0", "pkg:pypi/epsslib@1.0", "pkg:pypi/vexlib@1.0")
        upload(s, Principal.system(), svc.settings, asset, cyclonedx(*purls))
    drain(svc)  # matching opens them (bulk INSERT), then prioritises them (ORM)
    assert _sort_keys_hold(world) == 3
    with svc.db.transaction() as s:  # a KEV listing with a due date, then an EPSS import
        kev_listed(s)
        request_reprioritise(s, "kev")
    drain(svc)
    with svc.db.transaction() as s:
        with EPSS.open("rb") as f:
            epss.import_epss(s, f, EPSS.name, principal=Principal.system())
        request_reprioritise(s, "epss")
    drain(svc)
    with svc.db.reading() as s:
        kev_due = s.scalar(select(Exposure.due_at).where(Exposure.purl == purls[0]))
    assert kev_due == datetime(2021, 12, 24, 23, 59, 59, tzinfo=UTC)  # the KEV date won
    assert _sort_keys_hold(world) == 3
    vex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://operator.example/vex/1",
        "author": "operator",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2026-0612"},
                "products": [{"@id": purls[2]}],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
    r = client.post(
        f"/api/v1/assets/{asset}/vex",
        files={"file": ("vex.json", json.dumps(vex).encode())},
        headers=member.headers,
    )
    assert r.status_code == 200 and len(r.json()["applied"]) == 1, r.text
    assert _sort_keys_hold(world) == 3


def test_bulk_sql_that_bypasses_the_orm_cannot_break_due_sort(world: World) -> None:
    """The adversary: a bulk UPDATE or INSERT statement writing `due_at` and never naming
    `due_sort` (no ORM event runs for it). The database derives it."""
    _member, asset = operator_with_asset(world)
    soon = utcnow() + timedelta(days=3)
    with world.services.db.transaction() as s:
        v = import_record(s, osv_doc("PYSEC-2026-620"))
        w = import_record(s, osv_doc("PYSEC-2026-621"))
        first = exposure(s, asset, v, ssvc="Act", due_at=soon)
        second = exposure(s, asset, v)
    with world.services.db.transaction() as s:
        s.execute(update(Exposure).where(Exposure.id == first).values(due_at=None))
        s.execute(update(Exposure).where(Exposure.id == second).values(due_at=soon))
    with world.services.db.reading() as s:
        keys = dict(s.execute(select(Exposure.id, Exposure.due_sort)).all())
    assert keys == {first: NO_DUE, second: soon}
    with world.services.db.transaction() as s:
        row = {
            c.key: getattr(s.get(Exposure, second), c.key)
            for c in Exposure.__table__.columns
            if c.key != "due_sort"
        }
        s.execute(update(Exposure).where(Exposure.id == second).values(status="remediated"))
        s.execute(insert(Exposure), [{**row, "id": "exp_bulk", "vuln_id": w, "due_at": None}])
    assert _sort_keys_hold(world) == 3
