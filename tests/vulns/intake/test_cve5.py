"""CVE JSON 5 import: the golden record, the service round trip, and invalid records."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from cvelib.cve_api import CveRecord

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.cve5 import cve5_record, validate_cve5
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.cve5 import Cna
from clearinghouse.vulns.publication.export import export_vuln
from clearinghouse.vulns.search import vuln_detail
from tests.support.vulns import (
    GOLDEN,
    count,
    golden,
)


def test_cve5_import_matches_the_golden_record() -> None:
    doc = golden("CVE-2099-0042.cve5.json")
    validate_cve5(doc)
    assert cve5_record(doc) == golden("CVE-2099-0042.expected-osv.json")


def test_cve5_import_through_the_service_and_export_round_trip(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "CVE-2099-0042.json"
    path.write_text((GOLDEN / "CVE-2099-0042.cve5.json").read_text())
    first = import_file(services.db, Principal.system(), path, fmt="cve5").as_dict()
    assert first == {"created": 1, "updated": 0, "unchanged": 0, "rejected": []}
    assert import_file(services.db, Principal.system(), path, fmt="cve5").unchanged == 1
    with services.db.transaction() as s:
        detail = vuln_detail(s, Principal.system(), "CVE-2099-0042")
        assert detail.origin == "cve5" and detail.cwe_ids == ["CWE-787"]
        assert detail.severity[0].base_score == 8.8
        doc = export_vuln(s, Principal.system(), "CVE-2099-0042", "cve5")
        # the importer kept the assigner: had we been that CNA, ours would be the CNA container
        theirs = Cna("62a45ff1-025b-495b-8559-0baad971bdff", "example-cna")
        as_their_cna = export_vuln(s, Principal.system(), "CVE-2099-0042", "cve5", cna=theirs)
    validate_cve5(as_their_cna)
    # another CNA assigned it: our export is an ADP container with our enrichment
    CveRecord.validate(doc["adpContainer"], CveRecord.Schemas.ADP)
    assert doc["adpContainer"]["affected"][0]["versions"][0] == {
        "version": "2.0.0",
        "status": "affected",
        "versionType": "python",
        "lessThan": "2.4.1",
    }


def test_an_invalid_cve5_record_is_rejected_with_the_reason(
    services: Services, tmp_path: Path
) -> None:
    bad = golden("CVE-2099-0042.cve5.json")
    bad["cveMetadata"]["cveId"] = "CVE-99-1"
    other = copy.deepcopy(golden("CVE-2099-0042.cve5.json"))
    del other["containers"]["cna"]["affected"]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(bad) + "\n" + json.dumps(other) + "\n")
    result = import_file(services.db, Principal.system(), path, fmt="cve5")
    assert result.created == 0 and len(result.rejected) == 2
    assert "cveMetadata/cveId" in result.rejected[0]["reason"]
    assert "affected" in result.rejected[1]["reason"]
    assert count(services, Vulnerability) == 0
