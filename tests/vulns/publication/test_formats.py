"""The publication formats: golden documents, their validators, TLP mapping, and round trips
through the intake converters."""

from __future__ import annotations

import pytest
import stix2
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.csaf import csaf_records
from clearinghouse.vulns.intake.cve5 import cve5_record, validate_cve5
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.common import cve_of
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.cve5 import to_cve5
from clearinghouse.vulns.publication.stix import TLP2_MARKINGS, to_stix
from tests.conftest import shared_data_dir
from tests.support.vulns import (
    CWE_NAMES,
    affected_key,
    csaf20_valid,
    golden,
)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("expected-cve5", lambda r: to_cve5(r, cwe_names=CWE_NAMES, native=True)),
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


def test_osv_to_cve5_and_back_keeps_packages_ranges_cwe_and_severity() -> None:
    original = golden("CH-2099-00007.osv.json")
    back = cve5_record(to_cve5(original, native=True))
    assert affected_key(back) == affected_key(original)
    assert back["database_specific"]["cwe_ids"] == ["CWE-416"]
    assert back["severity"] == original["severity"]
    assert back["details"] == original["details"]


def test_osv_to_csaf_and_back_keeps_packages_and_ranges() -> None:
    original = golden("CH-2099-00007.osv.json")
    (back,) = csaf_records(to_csaf(original))
    assert affected_key(back) == affected_key(original)
    assert "CVE-2099-0077" in back["aliases"] and "CH-2099-00007" in back["aliases"]
    assert back["database_specific"]["cwe_ids"] == ["CWE-416"]


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
                    validate_cve5(to_cve5(record, native=True))
                except FormatError as exc:
                    failures.append(f"{rid} cve5 {exc}")
            stix2.parse(to_stix(record), allow_custom=True)
            exported += 1
    assert exported > 300 and failures == []
