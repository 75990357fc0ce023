"""EPSS import in FIRST's CSV format (gzip or plain), with history: one row per CVE per score
date, idempotent re-import, every bad line named by number and nothing written when any line is
bad, coordinators only. On SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, delete, func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.core.errors import PermissionDenied
from clearinghouse.inventory.epss import (
    EpssImportInvalid,
    ImportResult,
    history,
    import_epss,
    latest,
)
from clearinghouse.inventory.epss_models import EpssScore
from clearinghouse.storage.services import Services

DATA = Path(__file__).parent.parent / "data" / "epss"
D16, D17 = date(2025, 3, 16), date(2025, 3, 17)
SYSTEM = Principal.system()


@pytest.fixture
def svc(services: Services) -> Iterator[Services]:
    # Start clean whatever ran before on this database (belt and braces: the table is in
    # metadata(), which the PostgreSQL fixture truncates).
    with services.db.transaction() as s:
        s.execute(delete(EpssScore))
    yield services


def run(
    svc: Services, name: str, data: bytes | None = None, principal: Principal = SYSTEM
) -> ImportResult:
    raw = data if data is not None else (DATA / name).read_bytes()
    with svc.db.transaction() as s:
        return import_epss(s, io.BytesIO(raw), name, principal=principal)


def count(svc: Services) -> int:
    with svc.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(EpssScore)) or 0


def epss_events(svc: Services) -> list[AuditEvent]:
    with svc.db.transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.tag == "inventory:epss:import")))


def test_import_plain_then_gzip_keeps_history_and_latest_is_the_newest(svc: Services) -> None:
    first = run(svc, "epss_scores-2025-03-16.csv")
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    assert (first.score_date, first.model_version) == (D16, "v2025.03.14")
    second = run(svc, "epss_scores-2025-03-17.csv.gz")
    assert (second.created, second.score_date) == (3, D17)
    assert count(svc) == 6
    with svc.db.transaction() as s:
        got = latest(s, ["CVE-1999-0001", "CVE-2024-3094", "CVE-2026-0001", "CVE-2000-9999"])
        assert got == {
            "CVE-1999-0001": (0.01301, 0.79012, D17),
            "CVE-2024-3094": (0.8421, 0.99268, D16),  # not in the 17th's file: still the 16th's
            "CVE-2026-0001": (0.00043, 0.12011, D17),
        }
        assert history(s, "CVE-1999-0001") == [(D16, 0.01297, 0.79001), (D17, 0.01301, 0.79012)]
    events = epss_events(svc)
    assert [e.subject_id for e in events] == ["2025-03-16", "2025-03-17"]


def test_reimport_of_the_same_file_changes_nothing_and_records_nothing(svc: Services) -> None:
    run(svc, "epss_scores-2025-03-16.csv")
    again = run(svc, "epss_scores-2025-03-16.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert count(svc) == 3
    assert len(epss_events(svc)) == 1


def test_a_corrected_file_for_the_same_date_updates_only_what_differs(svc: Services) -> None:
    run(svc, "epss_scores-2025-03-16.csv")
    text = (DATA / "epss_scores-2025-03-16.csv").read_text()
    fixed = text.replace("CVE-2024-3094,0.84210,0.99268", "CVE-2024-3094,0.5,0.9")
    result = run(svc, "corrected.csv", fixed.encode())
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    with svc.db.transaction() as s:
        assert latest(s, ["CVE-2024-3094"]) == {"CVE-2024-3094": (0.5, 0.9, D16)}
    assert count(svc) == 3


def test_bad_lines_are_each_named_and_nothing_is_written(svc: Services) -> None:
    with pytest.raises(EpssImportInvalid) as err:
        run(svc, "bad_lines.csv")
    assert err.value.code == "epss_invalid"
    named = [e.split(":")[0] for e in err.value.extra["errors"]]
    assert named == ["line 4", "line 5", "line 6", "line 7", "line 8", "line 9"]
    assert "CVE-1999-0001 again (first on line 3)" in err.value.detail
    # Line 3 is good, and still nothing was written: the file is refused whole.
    assert count(svc) == 0
    assert epss_events(svc) == []


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        ((DATA / "no_meta.csv").read_bytes(), "epss_invalid", "line 1"),
        (b"", "epss_invalid", "line 1"),
        (
            b"#model_version:v1,score_date:2025-02-30\ncve,epss,percentile\nCVE-1999-0001,0.1,0.2\n",
            "epss_invalid",
            "is not a date",
        ),
        (
            b"#model_version:v1,score_date:2025-03-01\ncve,epss\nCVE-1999-0001,0.1\n",
            "epss_invalid",
            "line 2",
        ),
        (
            b"#model_version:v1,score_date:2025-03-01\ncve,epss,percentile\n",
            "epss_invalid",
            "no scores",
        ),
        (
            b"#model_version:v1,score_date:2025-03-01\ncve,epss,percentile\n\nCVE-1999-0001,0.1,0.2\n",
            "epss_invalid",
            "line 3: blank",
        ),
        (b"#model_version:v1,score_date:2025-03-01\n\xff\xfe", "epss_unreadable", "UTF-8"),
        (
            gzip.compress((DATA / "epss_scores-2025-03-16.csv").read_bytes())[:40],
            "epss_unreadable",
            "gzip",
        ),
        (b"\x1f\x8b" + b"garbage" * 10, "epss_unreadable", "gzip"),
        (gzip.compress(b"\0" * (64 * 1024**2 + 10)), "epss_too_large", "uncompressed"),
    ],
    ids=[
        "no-meta",
        "empty",
        "bad-date",
        "bad-header",
        "no-rows",
        "blank-line",
        "not-utf8",
        "truncated-gzip",
        "broken-gzip",
        "gzip-bomb",
    ],
)
def test_a_file_that_is_not_epss_is_refused_with_a_stable_code(
    svc: Services, data: bytes, code: str, says: str
) -> None:
    with pytest.raises(EpssImportInvalid) as err:
        run(svc, "x.csv", data)
    assert err.value.code == code
    assert says in err.value.detail
    assert count(svc) == 0


def test_many_bad_lines_are_counted_and_the_list_is_capped(svc: Services) -> None:
    body = "#model_version:v1,score_date:2025-03-01\ncve,epss,percentile\n" + "x,1,1\n" * 500
    with pytest.raises(EpssImportInvalid) as err:
        run(svc, "x.csv", body.encode())
    assert err.value.extra["error_count"] == 500
    assert len(err.value.extra["errors"]) == 20
    assert "(and 480 more)" in err.value.detail


@pytest.mark.parametrize("kind", [OrgKind.operator, OrgKind.vendor, OrgKind.lab])
def test_only_coordinators_import(svc: Services, kind: OrgKind) -> None:
    intruder = Principal("usr_x", "org_x", kind, Role.admin)
    with pytest.raises(PermissionDenied):
        run(svc, "epss_scores-2025-03-16.csv", principal=intruder)
    assert count(svc) == 0
    coordinator = Principal("usr_c", "org_c", OrgKind.coordinator, Role.member)
    assert run(svc, "epss_scores-2025-03-16.csv", principal=coordinator).created == 3


def test_latest_handles_many_ids_and_ignores_what_is_not_a_cve(svc: Services) -> None:
    run(svc, "epss_scores-2025-03-16.csv")
    ids = [f"CVE-2030-{n:05d}" for n in range(2500)] + ["CVE-2021-44228", "' OR 1=1 --", ""]
    with svc.db.transaction() as s:
        assert latest(s, ids) == {"CVE-2021-44228": (0.94358, 0.99957, D16)}


def test_the_migration_creates_the_table_the_model_describes(svc: Services) -> None:
    only = MetaData()
    EpssScore.__table__.to_metadata(only)
    with svc.db.engine.connect() as c:
        drift = [
            d
            for d in compare_metadata(MigrationContext.configure(c), only)
            if "inventory_epss_scores" in repr(d)
        ]
    assert drift == []
