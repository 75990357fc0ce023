"""CSAF import: the examples, the validator suite's mandatory failures, other documents posing as
advisories, and TLP above CLEAR."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.search import vuln_detail
from tests.conftest import shared_data_dir
from tests.support.vulns import (
    count,
    golden,
)


@pytest.mark.shared_data
def test_csaf_examples_import_and_the_invalid_one_is_rejected(
    services: Services, tmp_path: Path
) -> None:
    examples = sorted(
        (shared_data_dir() / "csaf" / "csaf_2.0" / "examples" / "csaf").rglob("*.json")
    )
    assert len(examples) == 19
    created, rejected = 0, {}
    for path in examples:
        result = import_file(services.db, Principal.system(), path, fmt="csaf")
        created += result.created
        for r in result.rejected:
            rejected[path.name] = r["reason"]
    # The csaf package flags one OASIS VEX example: its `recommended` product status is not
    # one of the statuses the VEX profile (test 6.1.27) allows.
    assert list(rejected) == ["2022-evd-uc-08-001.json"]
    assert "6.1.27" in rejected["2022-evd-uc-08-001.json"]
    assert created == count(services, Vulnerability) == 57
    with services.db.transaction() as s:
        log4j = vuln_detail(s, Principal.system(), "SEC-VEX-2022-0001:CVE-2021-44228")
        assert "CVE-2021-44228" in log4j.aliases and log4j.origin == "csaf"


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
