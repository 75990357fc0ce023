"""The OSV quality gate at intake: a record that breaks the schema is refused with SCH0001;
others are stored with their findings, listed at /api/v1/import-findings for the records the
caller may see (never an embargoed one's to an outsider)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.quality.models import ImportFinding
from clearinghouse.vulns.quality.rules import RULES, lint
from tests.support.vulns import record, write_jsonl
from tests.support.world import Member


def _codes(doc: dict[str, Any]) -> list[str]:
    return [f.code for f in lint(doc)]


def test_the_rules() -> None:
    clean = record("PYSEC-2026-1", aliases=["CVE-2026-1"])
    assert _codes(clean) == []
    assert _codes(record("ACME-1")) == ["REC0004"]
    bad_range = record("PYSEC-2026-2", fixed="not a version!")
    assert _codes(bad_range) == ["RNG0001"]
    backwards = record("PYSEC-2026-3")
    backwards["affected"][0]["ranges"][0]["events"] = [{"introduced": "2.0"}, {"fixed": "1.0"}]
    assert _codes(backwards) == ["RNG0002"]
    wrong_purl = record("PYSEC-2026-4")
    wrong_purl["affected"][0]["package"]["purl"] = "pkg:pypi/another"
    assert _codes(wrong_purl) == ["PKG0001"]
    odd = record("PYSEC-2026-5", aliases=["CVE-2026-5"]) | {"related": ["CVE-2026-5"]}
    odd["affected"][0]["package"]["ecosystem"] = "pypi"
    assert _codes(odd) == ["REC0002", "SCH0002", "PKG0001"]  # the purl says PyPI
    assert _codes({"id": "PYSEC-2026-6", "modified": "2026-01-01T00:00:00Z"}) == ["REC0001"]
    short_git = {
        "id": "OSV-2026-7",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {"ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "abc123"}]}]}
        ],
    }
    assert _codes(short_git) == ["SCH0003"]
    assert all(len(code) == 7 and code[:3] in {"SCH", "REC", "RNG", "PKG"} for code in RULES)


def test_import_refuses_schema_breakers_and_stores_findings(
    services: Services,
    client: TestClient,
    people: dict[str, Member],
    tmp_path: Path,
) -> None:
    backwards = record("PYSEC-2026-3")
    backwards["affected"][0]["ranges"][0]["events"] = [{"introduced": "2.0"}, {"fixed": "1.0"}]
    secret = record("PYSEC-2026-9", fixed="not a version!")
    f = write_jsonl(
        tmp_path / "q.jsonl",
        [
            record("PYSEC-2026-1"),
            backwards,
            secret,
            {"id": "PYSEC-2026-8", "modified": "yesterday"},  # breaks the schema
        ],
    )
    result = import_file(services.db, Principal.system(), f)
    assert result.created == 3
    assert [r["code"] for r in result.rejected] == ["SCH0001"]
    assert result.rejected[0]["reason"].startswith("SCH0001: modified")
    with services.db.transaction() as s:
        s.scalars(
            select(Vulnerability).where(Vulnerability.source_id == "PYSEC-2026-9")
        ).one().embargo_until = utcnow() + timedelta(days=3)
    # Importing again replaces the findings, never duplicates them.
    import_file(services.db, Principal.system(), f)
    with services.db.transaction() as s:
        assert sorted(s.scalars(select(ImportFinding.code))) == ["RNG0001", "RNG0002"]

    coord, outsider = people["coordinator"].headers, people["other"].headers
    seen = client.get("/api/v1/import-findings", headers=coord).json()["items"]
    assert {(i["vuln_id"], i["code"], i["rule"]) for i in seen} == {
        ("PYSEC-2026-3", "RNG0002", "ranges-ordered"),
        ("PYSEC-2026-9", "RNG0001", "versions-parse"),
    }
    # The embargoed record's finding is not an outsider's to see: filtered in SQL, so the
    # first page is full of what they may see and nothing else.
    theirs = client.get("/api/v1/import-findings?limit=1", headers=outsider).json()
    assert [i["vuln_id"] for i in theirs["items"]] == ["PYSEC-2026-3"]
    assert theirs["next_cursor"] is None
    by_code = client.get("/api/v1/import-findings?code=RNG0001", headers=outsider).json()
    assert by_code["items"] == []
    by_vuln = client.get("/api/v1/import-findings?vuln_id=PYSEC-2026-3", headers=coord).json()
    assert [i["code"] for i in by_vuln["items"]] == ["RNG0002"]
    assert client.get("/api/v1/import-findings").status_code == 401
    bad = client.get("/api/v1/import-findings?code=ZZZ9999", headers=coord)
    assert bad.status_code == 422 and bad.json()["code"] == "rule_unknown"
    # No permissive CORS on this authenticated route.
    r = client.get("/api/v1/import-findings", headers=coord | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
