"""Imports and exports of every advisory format: golden files (written and checked by hand under
tests/golden/vulns), round trips through CVE 5 and CSAF, each output checked by its format's own
validator, the CSAF validator test suite, CISA KEV and the CWE list."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
import stix2
from sqlalchemy import func, select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.csaf import csaf_records
from clearinghouse.vulns.intake.cve5 import cve5_record, validate_cve5
from clearinghouse.vulns.intake.cwe import import_cwe
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import CweEntry, KevEntry, Vulnerability
from clearinghouse.vulns.publication.common import cve_of
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.cve5 import to_cve5
from clearinghouse.vulns.publication.export import export_vuln
from clearinghouse.vulns.publication.stix import TLP2_MARKINGS, to_stix
from clearinghouse.vulns.search import vuln_detail
from tests.conftest import shared_data_dir

GOLDEN = Path(__file__).parent / "golden" / "vulns"
CWE_NAMES = {"CWE-416": "Use After Free"}


def golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def csaf20_valid(doc: dict) -> bool:
    from csaf.csaf.v20._validator import validate

    return bool(validate(doc, preset="basic").overall_valid)


def count(services: Services, model: type) -> int:
    with services.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- golden files ------------------------------------------------------------------------------


def test_cve5_import_matches_the_golden_record() -> None:
    doc = golden("CVE-2099-0042.cve5.json")
    validate_cve5(doc)
    assert cve5_record(doc) == golden("CVE-2099-0042.expected-osv.json")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("expected-cve5", lambda r: to_cve5(r, cwe_names=CWE_NAMES)),
        ("expected-csaf", lambda r: to_csaf(r, tlp="AMBER+STRICT", cwe_names=CWE_NAMES)),
        ("expected-vex", lambda r: to_csaf(r, tlp="CLEAR", vex=True, cwe_names=CWE_NAMES)),
        ("expected-stix", lambda r: to_stix(r, tlp="AMBER")),
    ],
)
def test_exports_match_the_golden_documents(name: str, make) -> None:
    assert make(golden("CH-2099-00007.osv.json")) == golden(f"CH-2099-00007.{name}.json")


def test_golden_exports_pass_their_validators() -> None:
    validate_cve5(golden("CH-2099-00007.expected-cve5.json"))
    assert csaf20_valid(golden("CH-2099-00007.expected-csaf.json"))
    assert csaf20_valid(golden("CH-2099-00007.expected-vex.json"))
    bundle = stix2.parse(golden("CH-2099-00007.expected-stix.json"), allow_custom=True)
    marked = {o.id: o.get("object_marking_refs") for o in bundle.objects}
    vuln = next(o for o in bundle.objects if o.type == "vulnerability")
    assert marked[vuln.id] == [TLP2_MARKINGS["AMBER"]]
    definitions = {o.id: o for o in bundle.objects if o.type == "marking-definition"}
    assert definitions[TLP2_MARKINGS["AMBER"]]["name"] == "TLP:AMBER"


def test_csaf_maps_tlp_amber_strict_to_red_never_wider() -> None:
    doc = to_csaf(golden("CH-2099-00007.osv.json"), tlp="AMBER+STRICT")
    assert doc["document"]["distribution"]["tlp"]["label"] == "RED"


# --- round trips ---------------------------------------------------------------------------------


def _affected(record: dict) -> list:
    return sorted(
        (
            a["package"]["ecosystem"],
            a["package"]["name"],
            json.dumps(a.get("ranges", []), sort_keys=True),
            sorted(a.get("versions", [])),
        )
        for a in record["affected"]
    )


def test_osv_to_cve5_and_back_keeps_packages_ranges_cwe_and_severity() -> None:
    original = golden("CH-2099-00007.osv.json")
    back = cve5_record(to_cve5(original))
    assert _affected(back) == _affected(original)
    assert back["database_specific"]["cwe_ids"] == ["CWE-416"]
    assert back["severity"] == original["severity"]
    assert back["details"] == original["details"]


def test_osv_to_csaf_and_back_keeps_packages_and_ranges() -> None:
    original = golden("CH-2099-00007.osv.json")
    (back,) = csaf_records(to_csaf(original))
    assert _affected(back) == _affected(original)
    assert "CVE-2099-0077" in back["aliases"] and "CH-2099-00007" in back["aliases"]
    assert back["database_specific"]["cwe_ids"] == ["CWE-416"]


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
    validate_cve5(doc)
    assert doc["containers"]["cna"]["affected"][0]["versions"][0] == {
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


# --- exports of real records, each through its validator -----------------------------------------


@pytest.mark.shared_data
def test_every_pypa_record_exports_valid_csaf_vex_cve5_and_stix(
    services: Services, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("format validity does not depend on the database")
    path = shared_data_dir() / "osv-pypa" / "osv-pypa.jsonl.gz"
    import_file(services.db, Principal.system(), path)
    failures: list[str] = []
    exported = 0
    with services.db.transaction() as s:
        ids = s.scalars(select(Vulnerability.source_id).order_by(Vulnerability.id)).all()
        for rid in ids[::7]:  # every 7th record: ~380 records, all ecosystems' range shapes
            record = s.scalar(select(Vulnerability.record).where(Vulnerability.source_id == rid))
            if not csaf20_valid(to_csaf(record)):
                failures.append(f"{rid} csaf")
            if not csaf20_valid(to_csaf(record, vex=True)):
                failures.append(f"{rid} vex")
            if cve_of(record):  # a CVE record needs a CVE id
                try:
                    validate_cve5(to_cve5(record))
                except FormatError as exc:
                    failures.append(f"{rid} cve5 {exc}")
            stix2.parse(to_stix(record), allow_custom=True)
            exported += 1
    assert exported > 300 and failures == []


# --- CSAF: the OASIS examples and the validator test suite ------------------------------------


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


# --- CISA KEV and the CWE list -------------------------------------------------------------------


@pytest.mark.shared_data
def test_kev_import_is_idempotent_and_flags_records_by_cve(
    services: Services, tmp_path: Path
) -> None:
    kev = shared_data_dir() / "cisa-kev" / "known_exploited_vulnerabilities.json"
    first = import_file(services.db, Principal.system(), kev, fmt="kev")
    assert first.created == 1404 and first.rejected == []
    again = import_file(services.db, Principal.system(), kev, fmt="kev")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1404)
    # A record naming a KEV CVE (CVE-2021-44228, Log4Shell) carries the flag and due date.
    rec = golden("CH-2099-00007.osv.json") | {"id": "TEST-2021-1", "aliases": ["CVE-2021-44228"]}
    path = tmp_path / "log4j.json"
    path.write_text(json.dumps(rec))
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        detail = vuln_detail(s, Principal.system(), "TEST-2021-1")
        entry = s.get(KevEntry, "CVE-2021-44228")
        assert entry is not None
    assert detail.kev is True
    assert detail.kev_entries[0].due_date == entry.due_date
    assert detail.kev_entries[0].ransomware == "Known"


def test_kev_entries_with_bad_fields_are_rejected(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "kev.json"
    good = {
        "cveID": "CVE-2099-0001",
        "dateAdded": "2099-01-01",
        "dueDate": "2099-01-22",
        "knownRansomwareCampaignUse": "Unknown",
    }
    path.write_text(
        json.dumps(
            {
                "vulnerabilities": [
                    good,
                    {**good, "cveID": "not-a-cve"},
                    {**good, "cveID": "CVE-2099-0002", "dateAdded": "yesterday"},
                    {**good, "cveID": "CVE-2099-0003", "knownRansomwareCampaignUse": "Maybe"},
                ]
            }
        )
    )
    result = import_file(services.db, Principal.system(), path, fmt="kev")
    assert result.created == 1
    assert [r["source"].rsplit("#", 1)[1] for r in result.rejected] == [
        "vulnerabilities[1]",
        "vulnerabilities[2]",
        "vulnerabilities[3]",
    ]
    assert count(services, KevEntry) == 1


@pytest.mark.shared_data
def test_cwe_import_names_the_weaknesses_of_a_record(services: Services, tmp_path: Path) -> None:
    csv_path = shared_data_dir() / "cwe" / "cwe-2000-comprehensive-dictionary.csv"
    first = import_cwe(services.db, Principal.system(), csv_path)
    assert first.created > 900 and first.rejected == []
    assert import_cwe(services.db, Principal.system(), csv_path).unchanged == first.created
    path = tmp_path / "r.json"
    path.write_text((GOLDEN / "CH-2099-00007.osv.json").read_text())
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        detail = vuln_detail(s, Principal.system(), "CH-2099-00007")
        assert s.get(CweEntry, 416) is not None
    assert [(c.id, c.name) for c in detail.cwes] == [("CWE-416", "Use After Free")]


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
