"""Adversarial review of the exposures listing's keyset cursor over stored sort keys (round 16,
helper R3): forged cursors (rank, due date, id out of any range the server issues), a cursor
of another filter or another user, and a page walk while due dates move between pages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.core.clock import utcnow
from clearinghouse.inventory.models import Exposure
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.inventory.support import operator_with_asset
from tests.support.world import Member, World

OUTCOMES = ("Act", "Attend", "Track*", "Track", None)


def _forge(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def rows(world: World) -> tuple[Member, list[str]]:
    """An operator with 20 exposures over every SSVC outcome, due dates and none."""
    member, asset = operator_with_asset(world)
    base = utcnow()
    ids = []
    with world.services.db.transaction() as s:
        vuln = import_record(s, osv_doc("PYSEC-2099-8801"))
        for n in range(20):
            due = None if n % 4 == 3 else base + timedelta(days=n % 5, hours=n)
            ids.append(exposure(s, asset, vuln, ssvc=OUTCOMES[n % 5], due_at=due))
    return member, ids


def _walk(client: TestClient, who: Member, query: str = "", limit: int = 3) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        url = f"/api/v1/exposures?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=who.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(
    "forged",
    [
        "99999999999999999999.20260101000000000000.exp_x",  # rank beyond any integer column
        "-99999999999999999999.20260101000000000000.exp_x",
        "0.99991231235959999999.exp_x",  # the far future, past the no-due sentinel
        "0.00010101000000000000.exp_x",  # the far past
        "0.20261301000000000000.exp_x",  # month 13
        "0.2026-01-01T00:00:00+05:00.exp_x",  # another zone, ISO
        "0.20260101000000000000.",  # no id
        "0.20260101000000000000.exp_x.with.dots",
        "1_0.20260101000000000000.exp_x",  # Python's int() reads underscores
        " 1.20260101000000000000.exp_x",
        "x" * 81,
        "0.20260101000000000000.exp_'; drop table inventory_exposures; --",
    ],
)
@pytest.mark.parametrize("query", ["", "&ssvc=Act", "&ssvc=Track*"])
def test_a_forged_cursor_is_422_or_a_consistent_page_never_5xx(
    client: TestClient, rows: tuple[Member, list[str]], forged: str, query: str
) -> None:
    member, _ = rows
    r = client.get(
        f"/api/v1/exposures?limit=5{query.replace('*', '%2A')}&cursor={_forge(forged)}",
        headers=member.headers,
    )
    assert r.status_code in (200, 422), r.text[:400]
    if r.status_code == 422:
        assert r.json()["code"] == "cursor_invalid"


def test_a_walk_returns_every_row_once_in_order(
    client: TestClient, rows: tuple[Member, list[str]]
) -> None:
    member, ids = rows
    for limit in (1, 3, 7, 200):
        seen = _walk(client, member, limit=limit)
        assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    for outcome in ("Act", "Attend", "Track%2A", "Track"):
        seen = _walk(client, member, f"&ssvc={outcome}", limit=2)
        assert len(seen) == 4 == len(set(seen))


def test_a_cursor_of_no_filter_used_with_the_ssvc_filter(
    client: TestClient, rows: tuple[Member, list[str]]
) -> None:
    """Page one of the unfiltered walk ends in Act rows, Attend rows or further; its cursor
    with `ssvc=X` gives the X rows after it: none of a rank before the cursor's, all of a
    rank after it, and never a row twice."""
    member, _ = rows
    full = _walk(client, member, limit=200)
    rank = {i: n for n, i in enumerate(full)}
    for cut in range(1, len(full)):
        page = client.get(f"/api/v1/exposures?limit={cut}", headers=member.headers).json()
        cursor = page["next_cursor"]
        last = page["items"][-1]["id"]
        for outcome in ("Act", "Attend", "Track%2A", "Track"):
            everything = _walk(client, member, f"&ssvc={outcome}", limit=200)
            expected = [i for i in everything if rank[i] > rank[last]]
            r = client.get(
                f"/api/v1/exposures?limit=200&ssvc={outcome}&cursor={cursor}",
                headers=member.headers,
            )
            assert r.status_code == 200, r.text
            assert [item["id"] for item in r.json()["items"]] == expected, (cut, outcome)


def test_a_cursor_is_bound_to_nothing_but_its_keys(
    client: TestClient, world: World, rows: tuple[Member, list[str]]
) -> None:
    """Another operator replaying this operator's cursor sees only its own rows after those
    keys: the cursor reveals and unlocks nothing."""
    member, ids = rows
    other, asset = operator_with_asset(world)
    with world.services.db.transaction() as s:
        vuln = s.scalar(select(Exposure.vuln_id).where(Exposure.id == ids[0]))
        assert vuln is not None
        theirs = exposure(s, asset, vuln, ssvc="Act", due_at=utcnow() - timedelta(days=30))
    page = client.get("/api/v1/exposures?limit=2", headers=member.headers).json()
    r = client.get(f"/api/v1/exposures?cursor={page['next_cursor']}", headers=other.headers)
    assert r.status_code == 200
    assert all(item["id"] not in ids for item in r.json()["items"])
    assert theirs not in [i["id"] for i in r.json()["items"]]  # before the cursor's keys


def _move_due(world: World, eid: str, due: datetime | None) -> None:
    with world.services.db.transaction() as s:
        e = s.get(Exposure, eid)
        assert e is not None
        e.due_at = due


def test_a_walk_while_other_rows_due_dates_move(
    client: TestClient, world: World, rows: tuple[Member, list[str]]
) -> None:
    """Between pages, rows move (due dates rewritten by a reprioritisation). A row whose keys do
    not change is returned exactly once. What happens to a moved row is reported: moved behind
    the cursor it is missed by this walk, moved ahead of it after being read it is returned
    twice (a keyset walk's known property; the next walk sees each once)."""
    member, ids = rows
    seen: list[str] = []
    cursor: str | None = None
    moved: set[str] = set()
    step = 0
    while True:
        url = "/api/v1/exposures?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body: dict[str, Any] = client.get(url, headers=member.headers).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # move one row already read far ahead, and one not yet read far behind
        unread = [i for i in ids if i not in seen and i not in moved]
        read = [i for i in seen if i not in moved]
        step += 1
        if unread and read:
            _move_due(world, read[0], datetime(9000, 1, 1, tzinfo=UTC))
            _move_due(world, unread[-1], datetime(2000, 1, 1, tzinfo=UTC) + timedelta(hours=step))
            moved |= {read[0], unread[-1]}
    steady = [i for i in ids if i not in moved]
    assert all(seen.count(i) == 1 for i in steady), [i for i in steady if seen.count(i) != 1]
