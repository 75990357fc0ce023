"""Metrics on hand-built rows with hand-computed figures: open exposures by severity, SSVC,
sector and KEV; overdue; mean and p90 (nearest rank) time to remediate; scoped to the caller
(operator A's figures never count B's; a coordinator's count both; the sector filter)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.core.ids import new_id
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import ExposureEvent
from clearinghouse.inventory.schemas import AssetCreate
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.support.world import Member, World


def _operator(world: World, sector: str) -> tuple[Member, str]:
    org = world.org(OrgKind.operator)
    member = world.member(org, OrgKind.operator, Role.viewer)
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "site", "sector": sector, "criticality": "low"}
        )
        return member, assets.create_asset(s, Principal.system(), body).id


def test_metrics_by_hand(client: TestClient, world: World) -> None:
    a, asset_a = _operator(world, "energy")
    a2_asset = None
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": a.org_id, "name": "pump", "sector": "water", "criticality": "low"}
        )
        a2_asset = assets.create_asset(s, Principal.system(), body).id
    b, asset_b = _operator(world, "healthcare")
    now = utcnow()
    with world.services.db.transaction() as s:
        v = import_record(s, osv_doc("PYSEC-2026-300"))
        # A, open: 3 on energy, 1 on water; one of them in_progress; two overdue
        exposure(
            s, asset_a, v, severity="critical", ssvc="Act", kev=True, due_at=now - timedelta(days=2)
        )
        exposure(s, asset_a, v, severity="high", ssvc="Act", due_at=now - timedelta(hours=1))
        exposure(
            s,
            asset_a,
            v,
            severity="high",
            ssvc="Track",
            status="in_progress",
            due_at=now + timedelta(days=5),
        )
        exposure(s, a2_asset, v, severity="low", ssvc=None)
        # A, not open: accepted (past due: not overdue, it is not open), not_affected
        exposure(
            s,
            asset_a,
            v,
            severity="critical",
            status="risk_accepted",
            due_at=now - timedelta(days=30),
        )
        exposure(s, asset_a, v, severity="medium", status="not_affected")
        # A, remediated after 1, 2, 3, 4 and 10 days
        for days in (1, 2, 3, 4, 10):
            opened = now - timedelta(days=40)
            eid = exposure(s, asset_a, v, severity="medium", status="remediated", opened_at=opened)
            s.add(
                ExposureEvent(
                    id=new_id("xev"),
                    exposure_id=eid,
                    at=opened + timedelta(days=days),
                    actor="system",
                    from_status="open",
                    to_status="remediated",
                    note="",
                    evidence={},
                )
            )
        # B: one open, one remediated after 100 days: never in A's figures
        exposure(
            s, asset_b, v, severity="critical", ssvc="Act", kev=True, due_at=now - timedelta(days=1)
        )
        eid = exposure(s, asset_b, v, status="remediated", opened_at=now - timedelta(days=200))
        s.add(
            ExposureEvent(
                id=new_id("xev"),
                exposure_id=eid,
                at=now - timedelta(days=100),
                actor="system",
                from_status="open",
                to_status="remediated",
                note="",
                evidence={},
            )
        )

    got = client.get("/api/v1/inventory/metrics", headers=a.headers).json()
    assert got == {
        "open_total": 4,
        "open_by_severity": {"critical": 1, "high": 2, "low": 1},
        "open_by_ssvc": {"Act": 2, "Track": 1, "none": 1},
        "open_by_sector": {"energy": 3, "water": 1},
        "open_by_kev": {"true": 1, "false": 3},
        "overdue": 2,
        "remediated": 5,
        "mean_days_to_remediate": 4.0,  # (1+2+3+4+10)/5
        "p90_days_to_remediate": 10.0,  # nearest rank: ceil(0.9*5) = 5th of 5
    }
    water = client.get("/api/v1/inventory/metrics?sector=water", headers=a.headers).json()
    assert water["open_total"] == 1 and water["remediated"] == 0
    assert water["mean_days_to_remediate"] is None and water["p90_days_to_remediate"] is None

    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.viewer)
    both = client.get("/api/v1/inventory/metrics", headers=coord.headers).json()
    assert both["open_total"] == 5 and both["overdue"] == 3 and both["remediated"] == 6
    # six values 1,2,3,4,10,100: mean 20; p90 rank ceil(5.4) = 6th -> 100
    assert both["mean_days_to_remediate"] == 20.0 and both["p90_days_to_remediate"] == 100.0
    assert both["open_by_sector"] == {"energy": 3, "healthcare": 1, "water": 1}

    mine = client.get("/api/v1/inventory/metrics", headers=b.headers).json()
    assert mine["open_total"] == 1 and mine["mean_days_to_remediate"] == 100.0
    r = client.get("/api/v1/inventory/metrics?sector=moon", headers=a.headers)
    assert r.status_code == 422
