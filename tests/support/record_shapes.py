"""A corpus of every record shape the knowledge base holds, for the publication formats'
validators: imported OSV (PyPI/npm, and a Go record with year-0001 placeholder dates), CSAF and
CVE 5 imports, and native reports (package, Go, generic purl, repository at a commit), plus a
record carrying VEX statements of its own (not affected, with and without a justification)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from clearinghouse.vulns.intake.csaf import csaf_records
from clearinghouse.vulns.intake.cve5 import cve5_record
from clearinghouse.vulns.reports import _report_record
from clearinghouse.vulns.schemas import ReportCreate
from tests.support.vulns import golden, report_body

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

GO_RECORD: dict[str, Any] = {
    "id": "GO-2020-0001",
    "modified": "0001-01-01T00:00:00Z",
    "published": "2021-04-14T20:04:52Z",
    "aliases": ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"],
    "summary": "Arbitrary log line injection in github.com/gin-gonic/gin",
    "details": "The default Formatter for the Logger middleware allows log injection.",
    "affected": [
        {
            "package": {"name": "github.com/gin-gonic/gin", "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.0"}]}],
        }
    ],
    "references": [{"type": "FIX", "url": "https://github.com/gin-gonic/gin/pull/2237"}],
    "database_specific": {"url": "https://pkg.go.dev/vuln/GO-2020-0001"},
}


def _native(rid: str, cve: str, **target: str) -> dict[str, Any]:
    """A native report's record, with a CVE id as our CNA workflow would add."""
    data = ReportCreate.model_validate(report_body(target=target))
    record = _report_record(rid, data, NOW)
    record["aliases"] = [cve]
    return record


CORPUS_NAMES = (
    "osv-pypi-npm",
    "osv-go-year-0001",
    "osv-with-vex-statements",
    "csaf-import",
    "cve5-import",
    "native-package",
    "native-go",
    "native-generic",
    "native-repo-commit",
)


def corpus() -> dict[str, tuple[dict[str, Any], bool]]:
    """name → (record, native: one of our own reports)."""
    with_vex = copy.deepcopy(golden("CH-2099-00007.osv.json"))
    with_vex["id"] = "CH-2099-00008"
    with_vex["database_specific"]["vex"] = [
        {
            "product": {
                "name": "fastcache-lite",
                "purl": "pkg:pypi/fastcache-lite",
                "version": "1.0",
            },
            "status": "not_affected",
            "justification": "vulnerable_code_not_present",
        },
        {
            "product": {
                "name": "Appliance",
                "cpe": "cpe:2.3:a:example:appliance:2.0:*:*:*:*:*:*:*",
            },
            "status": "not_affected",
            "impact_statement": "The appliance never enables the eviction callback.",
        },
        {"product": {"name": "fastcache-pro", "version": "9"}, "status": "under_investigation"},
    ]
    (csaf,) = csaf_records(golden("CH-2099-00007.expected-csaf.json"))
    return {
        "osv-pypi-npm": (golden("CH-2099-00007.osv.json"), False),
        "osv-go-year-0001": (GO_RECORD, False),
        "osv-with-vex-statements": (with_vex, False),
        "csaf-import": (csaf, False),
        "cve5-import": (cve5_record(golden("CVE-2099-0042.cve5.json")), False),
        "native-package": (
            _native("CH-2026-00101", "CVE-2026-10101", purl="pkg:pypi/tinyparse@2.4.0"),
            True,
        ),
        "native-go": (
            _native(
                "CH-2026-00102", "CVE-2026-10102", purl="pkg:golang/github.com/acme/zip@v1.2.3"
            ),
            True,
        ),
        "native-generic": (
            _native("CH-2026-00103", "CVE-2026-10103", purl="pkg:generic/firmware-blob@7"),
            True,
        ),
        "native-repo-commit": (
            _native(
                "CH-2026-00104",
                "CVE-2026-10104",
                repository_url="https://git.example.org/acme/parser",
                commit="0123456789abcdef0123456789abcdef01234567",
            ),
            True,
        ),
    }
