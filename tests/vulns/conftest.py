"""Fixtures shared by the vulns tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import (
    Vulnerability,
)
from tests.support.vulns import record, write_jsonl
from tests.support.world import Member, World


@pytest.fixture
def people(world: World) -> dict[str, Member]:
    coord = world.org(OrgKind.coordinator)
    lab, vendor, other = (world.org(k) for k in (OrgKind.lab, OrgKind.vendor, OrgKind.vendor))
    return {
        "coordinator": world.member(coord, OrgKind.coordinator, Role.member),
        "coordinator_viewer": world.member(coord, OrgKind.coordinator, Role.viewer),
        "lab": world.member(lab, OrgKind.lab, Role.member),
        "vendor": world.member(vendor, OrgKind.vendor, Role.member),
        "other": world.member(other, OrgKind.vendor, Role.admin),
    }


@pytest.fixture
def loaded(services: Services, tmp_path: Path) -> Services:
    records = [
        record("PYSEC-A", aliases=["CVE-2026-0001"]),
        record("PYSEC-B", fixed="1.5"),
        record("PYSEC-C", name="Other_Pkg", fixed="0.5"),
    ]
    import_file(services.db, Principal.system(), write_jsonl(tmp_path / "r.jsonl", records))
    # Two records that must never be public: one embargoed, one TLP:AMBER and not yet published.
    import_file(
        services.db,
        Principal.system(),
        write_jsonl(tmp_path / "s.jsonl", [record("SECRET-1"), record("SECRET-2")]),
    )
    with services.db.transaction() as s:
        for v in s.scalars(select(Vulnerability).where(Vulnerability.source_id.like("SECRET-%"))):
            if v.source_id == "SECRET-1":
                v.embargo_until = utcnow() + timedelta(days=7)
            else:
                v.tlp, v.status = "AMBER", "triaged"
    return services


@pytest.fixture(autouse=True)
def fresh_dedup_index() -> None:
    """The dedup job keeps its near-duplicate index per database URL (`vulns/tasks.py`). Tests
    on PostgreSQL reuse one URL with emptied tables, where record ids start again at
    CH-YYYY-00001: an index left by an earlier test would hold another text under the same id."""
    from clearinghouse.vulns import tasks

    tasks._cache.clear()
