"""The open-exposures trend (inventory.trends) on hand-built rows with hand-counted figures: the
day boundaries (opened at 23:59, closed at 00:00 UTC), exposures opened and closed before the
window, the caller's scope (operator A never counts B's; a coordinator counts both; a vendor
nothing), and a bad window refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.errors import InvalidInput
from clearinghouse.inventory import assets, trends
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.schemas import AssetCreate
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.support.world import World

TODAY = date(2026, 6, 15)


def at(days_before: int, hour: int = 12, minute: int = 0) -> datetime:
    d = TODAY - timedelta(days=days_before)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def principal(org_id: str, kind: OrgKind) -> Principal:
    return Principal("usr_x", org_id, kind, Role.member)


def _asset(world: World) -> tuple[str, str]:
    org = world.org(OrgKind.operator)
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "grid", "sector": "energy", "criticality": "high"}
        )
        return org, assets.create_asset(s, Principal.system(), body).id


def test_open_by_severity_per_day_by_hand(world: World) -> None:
    org_a, asset_a = _asset(world)
    org_b, asset_b = _asset(world)
    with world.services.db.transaction() as s:
        vuln = import_record(s, osv_doc("PYSEC-TREND-1"))

        def row(asset: str, severity: str, opened: datetime, closed: datetime | None) -> None:
            eid = exposure(s, asset, vuln, severity=severity, opened_at=opened)
            if closed is not None:
                e = s.get(Exposure, eid)
                assert e is not None
                e.status, e.closed_at = "remediated", closed

        row(asset_a, "high", at(100), None)  # open through the whole window
        row(asset_a, "high", at(100), at(50))  # closed before the window
        row(asset_a, "critical", at(3, 23, 59), at(1, 0, 0))  # open at the end of D-3 and D-2
        row(asset_a, "low", at(10), at(2))  # open at the end of D-4, D-3
        row(asset_a, "medium", at(0, 10), None)  # today only
        row(asset_b, "critical", at(4), None)  # operator B's

    with world.services.db.reading() as s:
        mine = trends.open_by_severity(s, principal(org_a, OrgKind.operator), days=5, today=TODAY)
        theirs = trends.open_by_severity(s, principal(org_b, OrgKind.operator), days=5, today=TODAY)
        coord = trends.open_by_severity(
            s, principal("org_c", OrgKind.coordinator), days=5, today=TODAY
        )
        vendor = trends.open_by_severity(s, principal("org_v", OrgKind.vendor), days=5, today=TODAY)
        water = trends.open_by_severity(
            s, principal("org_c", OrgKind.coordinator), days=5, today=TODAY, sector="water"
        )
        with pytest.raises(InvalidInput):
            trends.open_by_severity(s, principal(org_a, OrgKind.operator), sector="moon")

    assert mine.days == [TODAY - timedelta(days=n) for n in (4, 3, 2, 1, 0)]
    assert mine.series["high"] == [1, 1, 1, 1, 1]
    assert mine.series["critical"] == [0, 1, 1, 0, 0]
    assert mine.series["low"] == [1, 1, 0, 0, 0]
    assert mine.series["medium"] == [0, 0, 0, 0, 1]
    assert mine.series["none"] == mine.series["unknown"] == [0] * 5
    assert theirs.series["critical"] == [1, 1, 1, 1, 1] and theirs.series["high"] == [0] * 5
    assert coord.series["critical"] == [1, 2, 2, 1, 1] and coord.series["high"] == [1] * 5
    assert all(v == [0] * 5 for v in vendor.series.values())
    assert all(v == [0] * 5 for v in water.series.values())  # both assets are energy


@pytest.mark.parametrize("days", [0, -1, trends.MAX_DAYS + 1])
def test_a_bad_window_is_refused(world: World, days: int) -> None:
    with world.services.db.reading() as s, pytest.raises(InvalidInput) as exc:
        trends.open_by_severity(s, principal("org_a", OrgKind.operator), days=days)
    assert exc.value.code == "trend_days_invalid"


def test_overdue_lists_the_callers_open_exposures_past_due_longest_first(world: World) -> None:
    org_a, asset_a = _asset(world)
    org_b, asset_b = _asset(world)
    now = datetime.now(UTC)
    with world.services.db.transaction() as s:
        vuln = import_record(s, osv_doc("PYSEC-TREND-2"))
        late = exposure(s, asset_a, vuln, due_at=now - timedelta(days=1))
        later = exposure(s, asset_a, vuln, due_at=now - timedelta(days=9), status="in_progress")
        exposure(s, asset_a, vuln, due_at=now + timedelta(days=1))  # not yet due
        exposure(s, asset_a, vuln, due_at=now - timedelta(days=5), status="mitigated")
        exposure(s, asset_a, vuln)  # no due date
        theirs = exposure(s, asset_b, vuln, due_at=now - timedelta(days=3))
    with world.services.db.reading() as s:
        mine = trends.overdue(s, principal(org_a, OrgKind.operator))
        coord = trends.overdue(s, principal("org_c", OrgKind.coordinator))
        lab = trends.overdue(s, principal("org_l", OrgKind.lab))
        assert [e.id for e in mine] == [later, late] and all(e.overdue for e in mine)
        assert [e.id for e in coord] == [later, theirs, late] and lab == []
        assert trends.overdue(s, principal("org_c", OrgKind.coordinator), sector="water") == []
        with pytest.raises(InvalidInput):
            trends.overdue(s, principal(org_b, OrgKind.operator), limit=0)
