"""Prioritisation on real rows: an SBOM matched by the real jobs, then `prioritise` fills SSVC
(with every input and its source), EPSS (latest, over the CVE aliases), KEV and the due date
from the KEV entry; a re-run changes nothing; the `inventory.reprioritise` job picks up a new
EPSS import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory import assets, epss, ssvc
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.prioritise import prioritise
from clearinghouse.inventory.prioritise_tasks import request_reprioritise
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.inventory.schemas import AssetCreate
from tests.inventory.exposure_support import import_record, kev_listed, osv_doc
from tests.inventory.support import cyclonedx, drain
from tests.support.world import World

EPSS = Path(__file__).parents[1] / "data" / "epss" / "epss_scores-2025-03-16.csv"
V4_TOTAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:N"


def _asset(world: World, **context: str) -> str:
    org = world.org(OrgKind.operator)
    world.member(org, OrgKind.operator, Role.member)
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "grid", "sector": "energy", "criticality": "high", **context}
        )
        return assets.create_asset(s, Principal.system(), body).id


def _matched(world: World, asset: str, purl: str) -> Exposure:
    svc = world.services
    with svc.db.transaction() as s:
        upload(s, Principal.system(), svc.settings, asset, cyclonedx(purl))
    drain(svc)
    with svc.db.transaction() as s:
        e = s.scalars(select(Exposure).where(Exposure.asset_id == asset)).one()
        s.expunge(e)
        return e


def test_prioritise_fills_every_field_from_the_record_kev_epss_and_asset(world: World) -> None:
    svc = world.services
    with svc.db.transaction() as s:
        import_record(
            s, osv_doc("PYSEC-2026-10", "logfour", aliases=("CVE-2021-44228",), vector=V4_TOTAL)
        )
        kev_listed(s)
        with EPSS.open("rb") as f:
            epss.import_epss(s, f, EPSS.name, principal=Principal.system())
    asset = _asset(world, exposure="small", mission_impact="degraded", wellbeing_impact="minimal")
    before = _matched(world, asset, "pkg:pypi/logfour@1.0")
    assert before.ssvc is not None  # the matching job prioritised it, in its transaction
    with svc.db.transaction() as s:
        e = s.get(Exposure, before.id)
        assert e is not None
        assert prioritise(s, [e]) == 0  # idempotent: nothing changes the second time
        assert e.kev is True and e.epss == 0.94358
        # KEV -> active; AU:N from the 4.0 vector; VC:H -> total; degraded+minimal -> low MWI
        inputs = e.ssvc_inputs or {}
        assert inputs["exploitation"]["source"] == "kev"
        assert inputs["automatable"] == {"value": "no", "source": "cvss", "why": "CVSS 4.0 AU:N"}
        assert inputs["technical_impact"]["value"] == "total"
        assert inputs["mission_wellbeing"]["value"] == "low"
        assert inputs["exposure"]["value"] == "small" and inputs["table_version"] == "2.0.3"
        # CISA table row 27: E=active, A=no, TI=total, MWI=low -> Track
        assert e.ssvc == "Track" and e.ssvc_rank == ssvc.rank("Track") == 3
        # the KEV entry's date (long past) is earlier than Track's 180 days: overdue from the start
        assert e.due_at == datetime(2021, 12, 24, 23, 59, 59, tzinfo=UTC)
        assert inputs["due"].startswith("kev:")
        # idempotent: nothing left to change
        assert prioritise(s, [e]) == 0


def test_defaults_are_marked_and_severity_never_overrides_an_outcome(world: World) -> None:
    svc = world.services
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2026-11", "quietlib"))
    asset = _asset(world)
    exp = _matched(world, asset, "pkg:pypi/quietlib@1.0")
    with svc.db.transaction() as s:
        e = s.get(Exposure, exp.id)
        assert e is not None
        prioritise(s, [e])
        inputs = e.ssvc_inputs or {}
        # nothing known: E none, A yes (open), TI total, MWI high (mef_failure) -> Attend
        assert {k: inputs[k]["source"] for k in ("exploitation", "automatable")} == {
            "exploitation": "default",
            "automatable": "default",
        }
        assert e.ssvc == "Attend" and e.kev is False and e.epss is None
        assert e.due_at is not None
        assert abs(e.due_at - (e.opened_at + timedelta(days=14))) < timedelta(seconds=1)


def test_reprioritise_job_picks_up_a_later_epss_import(world: World) -> None:
    svc = world.services
    with svc.db.transaction() as s:
        import_record(s, osv_doc("PYSEC-2026-12", "xzish", aliases=("CVE-2024-3094",)))
    asset = _asset(world)
    exp = _matched(world, asset, "pkg:pypi/xzish@1.0")
    with svc.db.transaction() as s:
        e = s.get(Exposure, exp.id)
        assert e is not None
        prioritise(s, [e])
        assert e.epss is None
    with svc.db.transaction() as s:
        with EPSS.open("rb") as f:
            epss.import_epss(s, f, EPSS.name, principal=Principal.system())
        request_reprioritise(s, "epss 2025-03-16")
    drain(svc)
    with svc.db.transaction() as s:
        e = s.get(Exposure, exp.id)
        assert e is not None and e.epss == 0.8421
        assert e.updated_at <= utcnow()
