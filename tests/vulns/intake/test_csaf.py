"""CSAF import: the examples, the validator suite's mandatory failures, other documents posing as
advisories, and TLP above CLEAR."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.csaf import validate_csaf
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.search import vuln_detail
from tests.conftest import shared_data_dir
from tests.support.vulns import (
    count,
    golden,
)


def _oasis_examples(version: str) -> list[Path]:
    return sorted((shared_data_dir() / "csaf" / version / "examples" / "csaf").rglob("*.json"))


@pytest.mark.shared_data
def test_all_42_oasis_csaf_examples_import(services: Services) -> None:
    """Every OASIS example, 2.0 and 2.1, imports. Seven were refused before: the `csaf`
    package refused the `recommended` status in the VEX example (the spec's test 6.1.27.6/7
    asks for at least one of four statuses, not only those), the 2.1 examples' publisher
    `contact_details` (committee draft 02's name), and 2.1 mandatory tests that are new in
    2.1 and still changing between drafts (6.1.36, 6.1.62, 6.1.66)."""
    examples = _oasis_examples("csaf_2.0") + _oasis_examples("csaf_2.1")
    assert len(examples) == 42
    created, rejected = 0, {}
    for path in examples:
        result = import_file(services.db, Principal.system(), path, fmt="csaf")
        created += result.created + result.updated + result.unchanged
        for r in result.rejected:
            rejected[str(path)] = r["reason"]
    assert rejected == {}
    with services.db.transaction() as s:
        log4j = vuln_detail(s, Principal.system(), "SEC-VEX-2022-0001:CVE-2021-44228")
        assert "CVE-2021-44228" in log4j.aliases and log4j.origin == "csaf"
        evd = s.scalars(
            select(Vulnerability).where(Vulnerability.source_id.like("2022-EVD-UC-08-001:%"))
        ).all()
        assert evd


def _example(version: str, name: str) -> dict[str, Any]:
    (path,) = [p for p in _oasis_examples(version) if p.name == name]
    return dict(json.loads(path.read_text()))


@pytest.mark.shared_data
def test_a_vex_document_with_none_of_the_four_required_statuses_is_still_refused() -> None:
    """The VEX fix accepts extra statuses only beside one of the four the profile requires."""
    doc = _example("csaf_2.0", "2022-evd-uc-08-001.json")
    validate_csaf(doc)
    for vuln in doc["vulnerabilities"]:
        vuln["product_status"] = {"recommended": ["CSAFPID-0011"]}
    with pytest.raises(FormatError, match=r"6\.1\.27"):
        validate_csaf(doc)


@pytest.mark.shared_data
def test_a_21_document_failing_a_settled_mandatory_test_is_refused() -> None:
    """2.1's draft-only tests give findings; the tests 2.0 already had still refuse, and the
    draft-02 publisher contact is accepted only as a string, never beside `contact`."""
    doc = _example("csaf_2.1", "rhsa-2021_5186.json")
    findings = validate_csaf(doc)
    assert any(f.startswith("6.1.36") for f in findings)
    broken = copy.deepcopy(doc)
    broken["vulnerabilities"][0]["product_status"]["fixed"].append("CSAFPID-NOT-DEFINED")
    with pytest.raises(FormatError, match=r"6\.1\.1 "):
        validate_csaf(broken)
    both = copy.deepcopy(doc)
    both["document"]["publisher"]["contact"] = {"details": "x"}
    with pytest.raises(FormatError, match="schema"):
        validate_csaf(both)
    not_a_string = copy.deepcopy(doc)
    not_a_string["document"]["publisher"]["contact_details"] = {"details": "x"}
    with pytest.raises(FormatError, match="schema"):
        validate_csaf(not_a_string)


@pytest.mark.shared_data
def test_csaf_validator_suite_mandatory_failures_are_rejected_whole(
    services: Services, tmp_path: Path
) -> None:
    """Every document of the OASIS test suite: those that must fail a mandatory test (6.1.x) are
    rejected with the test named, and leave nothing; valid ones and those failing only optional
    or informative tests import."""
    base = shared_data_dir() / "csaf" / "csaf_2.0" / "test" / "validator"
    docs = {
        json.loads(line)["path"]: json.loads(line)["document"]
        for line in gzip.open(base / "validator-testcase-documents.jsonl.gz", "rt")
    }
    cases = json.loads((base / "testcases.json").read_text())["tests"]
    mandatory_failures, accepted = [], []
    for test in cases:
        for f in test.get("failures", []):
            (mandatory_failures if test["group"] == "mandatory" else accepted).append(
                (test["id"], f["name"])
            )
        accepted += [(test["id"], v["name"]) for v in test.get("valid", [])]
    # Two documents written for optional tests 6.2.8/6.2.9 also repeat a hash algorithm, which
    # mandatory test 6.1.25 forbids: they are invalid CSAF, and rejected as such.
    also_invalid = {
        "optional/oasis_csaf_tc-csaf_2_0-2021-6-2-08-02.json",
        "optional/oasis_csaf_tc-csaf_2_0-2021-6-2-09-02.json",
    }
    mandatory_failures += [x for x in accepted if x[1] in also_invalid]
    accepted = [x for x in accepted if x[1] not in also_invalid]
    assert len(mandatory_failures) == 89 and len(accepted) == 150
    for _test, name in mandatory_failures:
        path = tmp_path / Path(name).name
        path.write_text(json.dumps(docs[f"csaf_2.0/test/validator/data/{name}"]))
        result = import_file(services.db, Principal.system(), path, fmt="csaf")
        assert result.created == 0 and len(result.rejected) == 1, name
        assert "invalid CSAF 2.0" in result.rejected[0]["reason"], name
    assert count(services, Vulnerability) == 0  # nothing partial
    for _test, name in accepted:
        path = tmp_path / Path(name).name
        path.write_text(json.dumps(docs[f"csaf_2.0/test/validator/data/{name}"]))
        result = import_file(services.db, Principal.system(), path, fmt="csaf")
        assert result.rejected == [], (name, result.rejected)


@pytest.mark.shared_data
def test_invalid_cyclonedx_documents_are_rejected_as_advisories(
    services: Services, tmp_path: Path
) -> None:
    """A BOM handed to the advisory import (every invalid JSON document of CycloneDX's spec
    tests) is refused with a reason and stores nothing."""
    rows = [
        json.loads(line)
        for line in gzip.open(
            shared_data_dir()
            / "cyclonedx-examples"
            / "spec-tests"
            / "cyclonedx-spec-test-documents.jsonl.gz",
            "rt",
        )
    ]
    invalid = [r for r in rows if r["format"] == "json" and r["expected_valid"] is False]
    assert len(invalid) > 50
    for n, row in enumerate(invalid):
        path = tmp_path / f"{n}-{row['file']}"
        path.write_text(row["text"])
        for fmt in ("osv", "csaf", "cve5"):
            result = import_file(services.db, Principal.system(), path, fmt=fmt)
            assert result.created == 0 and result.rejected, (row["file"], fmt)
            assert all(r["reason"] for r in result.rejected)
    assert count(services, Vulnerability) == 0


def test_a_csaf_document_marked_above_clear_is_not_public(
    services: Services, tmp_path: Path
) -> None:
    doc = to_csaf(golden("CH-2099-00007.osv.json"), tlp="AMBER")
    path = tmp_path / "amber.json"
    path.write_text(json.dumps(doc))
    assert import_file(services.db, Principal.system(), path, fmt="csaf").created == 1
    with services.db.transaction() as s:
        v = s.scalars(select(Vulnerability)).one()
        assert v.tlp == "AMBER"
        from clearinghouse.vulns.public.queries import get_public

        assert get_public(s, v.source_id) is None
