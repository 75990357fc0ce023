"""Every purl the product accepts goes through one check (`vulns.purls.parse_purl`): report
targets, the packages of imported records (OSV, CVE 5), and public OSV queries. A malformed
purl is refused with the stable code `purl_invalid` (`{"code": 3}` on the OSV routes), and
nothing of it is stored."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import AffectedPackage, Vulnerability, VulnerabilityReport
from clearinghouse.vulns.purls import PurlInvalid, parse_purl
from tests.support.world import World

GOLDEN = Path(__file__).parents[1] / "golden" / "vulns"

BAD = [
    "pkg:pypi/%ff%fe@1",  # percent-encoding that is not UTF-8
    "pkg:npm/%40scope/@1",  # a scope and an empty name
    "pkg:/x@1",  # no type
    "pkg:pypi/@1",  # no name
    "pkg:pypi/a%00b@1",  # NUL
    "pkg:pypi/a\x00b@1",
    "pkg:pypi/a%1bb@1",  # a control character
    "pkg:pypi/a%2Fb@1",  # the name "a/b", written back as another purl: pkg:pypi/a/b
    "pkg:pypi/%20@1",
    "pkg:pypi/demo?q=%ff",
    "pkg:pypi/" + "a" * 600,
]
GOOD = [
    "pkg:pypi/demo@1.0",
    "pkg:npm/%40scope/name@1.0.0",
    "pkg:npm/@scope/name@1.0.0",
    "pkg:maven/org.example/lib@3.1",
    "pkg:golang/github.com/a/b@v1.2.3",
    "pkg:PyPI/Demo",
    "pkg:generic/eval/poc_asan",
]


@pytest.mark.parametrize("purl", BAD)
def test_malformed_purls_are_refused(purl: str) -> None:
    with pytest.raises(PurlInvalid) as exc:
        parse_purl(purl)
    assert exc.value.code == "purl_invalid"


@pytest.mark.parametrize("purl", GOOD)
def test_wellformed_purls_pass(purl: str) -> None:
    assert parse_purl(purl).name


def _count(services: Services, model: type) -> int:
    with services.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _report(purl: str) -> dict[str, Any]:
    return {
        "title": "Out-of-bounds write in the header reader",
        "description": "A length-prefixed header field overflows a fixed heap buffer.",
        "provenance": {"kind": "human"},
        "target": {"purl": purl},
    }


@pytest.mark.parametrize("purl", [p for p in BAD if "\x00" not in p and len(p) <= 500])
def test_a_report_with_a_malformed_target_purl_is_refused_and_stores_nothing(
    client: TestClient, services: Services, world: World, purl: str
) -> None:
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    r = client.post("/api/v1/reports", json=_report(purl), headers=vendor.headers)
    assert r.status_code == 422 and r.json()["code"] == "purl_invalid", r.text
    assert _count(services, Vulnerability) == 0 and _count(services, VulnerabilityReport) == 0
    ok = client.post(
        "/api/v1/reports", json=_report("pkg:pypi/tinyparse@2.4"), headers=vendor.headers
    )
    assert ok.status_code == 201, ok.text


def _osv(rid: str, purl: str) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo", "purl": purl},
                "versions": ["1.0"],
            }
        ],
    }


@pytest.mark.parametrize("purl", BAD)
def test_an_imported_record_with_a_malformed_purl_is_rejected_and_stores_nothing(
    services: Services, tmp_path: Path, purl: str
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(_osv("BAD-1", purl)) + "\n" + json.dumps(_osv("GOOD-1", "pkg:pypi/demo")) + "\n"
    )
    result = import_file(services.db, Principal.system(), path)
    assert result.created == 1 and len(result.rejected) == 1, result
    reason = result.rejected[0]["reason"]
    assert result.rejected[0]["source"] == "r.jsonl:1"
    # A literal NUL is refused by the record's own storability check, before the purl's.
    assert "purl" in reason or ("\x00" in purl and "NUL" in reason), reason
    with services.db.transaction() as s:
        assert s.scalars(select(Vulnerability.source_id)).all() == ["GOOD-1"]
        assert s.scalars(select(AffectedPackage.purl)).all() == ["pkg:pypi/demo"]


def test_a_cve5_record_with_a_malformed_package_url_is_rejected(
    services: Services, tmp_path: Path
) -> None:
    good = json.loads((GOLDEN / "CVE-2099-0042.cve5.json").read_text())
    bad = copy.deepcopy(good)
    bad["containers"]["cna"]["affected"][0]["packageURL"] = "pkg:pypi/%ff%fe"
    path = tmp_path / "cve.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    result = import_file(services.db, Principal.system(), path, fmt="cve5")
    assert result.created == 0 and len(result.rejected) == 1
    assert "purl" in result.rejected[0]["reason"]
    assert _count(services, Vulnerability) == 0


@pytest.mark.parametrize("purl", BAD)
def test_an_osv_query_with_a_malformed_purl_is_a_400(client: TestClient, purl: str) -> None:
    r = client.post("/v1/query", json={"package": {"purl": purl}})
    assert r.status_code == 400 and r.json()["code"] == 3, r.text
    # In a batch, the query gets its own error and the batch its answer (issue 13).
    r = client.post("/v1/querybatch", json={"queries": [{"package": {"purl": purl}}]})
    assert r.status_code == 200 and r.json()["results"][0]["error"]["code"] == 3, r.text
