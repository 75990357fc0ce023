"""CVE 5 (CNA container only for ids we assigned, ADP otherwise; the official schema bundled
in cvelib) and STIX 2.1 (stix2-validator --strict, relationships to versioned software) over
a corpus of every record shape."""

from __future__ import annotations

import pytest
from cvelib.cve_api import CveRecord

from clearinghouse.vulns.intake.cve5 import validate_cve5
from clearinghouse.vulns.publication.cve5 import Cna, to_cve5
from clearinghouse.vulns.publication.stix import to_stix
from tests.support.record_shapes import CORPUS_NAMES, corpus
from tests.support.vulns import golden

CORPUS = corpus()
OURS = Cna()


def strict_errors(bundle: dict) -> list[str]:
    from stix2validator import ValidationOptions, validate_instance

    result = validate_instance(bundle, ValidationOptions(version="2.1", strict=True))
    return [str(e) for obj in [result] for e in [*result.errors, *result.warnings]]


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_every_record_shape_exports_valid_cve5(name: str) -> None:
    record, native = CORPUS[name]
    doc = to_cve5(record, OURS, native=native)
    text = str(doc)
    assert "0001-01-01" not in text
    if native:  # our reports: our CVE ids, our CNA container
        validate_cve5(doc)
        assert doc["cveMetadata"]["assignerOrgId"] == OURS.org_id
        assert doc["containers"]["cna"]["providerMetadata"]["orgId"] == OURS.org_id
    else:  # imported: another CNA's id, our ADP container
        assert set(doc) == {"adpContainer"}
        CveRecord.validate(doc["adpContainer"], CveRecord.Schemas.ADP)
        assert doc["adpContainer"]["providerMetadata"]["orgId"] == OURS.org_id


def test_an_imported_cve_is_never_exported_as_if_we_were_its_cna() -> None:
    """The adversary: an imported record (someone else's CVE id) is exported; before, every
    export named us as the assigning CNA."""
    record, _ = CORPUS["cve5-import"]
    assert "cveMetadata" not in to_cve5(record, OURS)
    # but if we are that CNA (its recorded assigner), the record is ours
    theirs = Cna("62a45ff1-025b-495b-8559-0baad971bdff", "EXAMPLE-CNA")
    doc = to_cve5(record, theirs)
    validate_cve5(doc)
    assert doc["cveMetadata"]["assignerShortName"] == "EXAMPLE-CNA"


def test_a_recorded_assigner_beats_native_origin() -> None:
    record = golden("CH-2099-00007.osv.json")
    record["database_specific"]["cve_assigner"] = {"shortName": "another-cna"}
    assert "adpContainer" in to_cve5(record, OURS, native=True)


def test_go_placeholder_dates_are_left_out_not_published() -> None:
    record, _ = CORPUS["osv-go-year-0001"]
    mine = {**record, "database_specific": {"cve_assigner": {"orgId": OURS.org_id}}}
    doc = to_cve5(mine, OURS)
    validate_cve5(doc)
    assert doc["cveMetadata"]["datePublished"] == "2021-04-14T20:04:52.000Z"
    assert doc["cveMetadata"]["dateUpdated"] == "2021-04-14T20:04:52.000Z"


@pytest.mark.parametrize("tlp", ["CLEAR", "AMBER+STRICT"])
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_every_record_shape_exports_strictly_valid_stix(name: str, tlp: str) -> None:
    record, _ = CORPUS[name]
    assert strict_errors(to_stix(record, tlp=tlp)) == []


def test_stix_links_the_vulnerability_to_versioned_software_with_purl_and_cpe() -> None:
    record, _ = CORPUS["osv-with-vex-statements"]
    record = {**record, "affected": [*record["affected"]]}
    record["database_specific"] = {
        **record["database_specific"],
        "vex": [
            {
                "product": {
                    "name": "appliance",
                    "cpe": "cpe:2.3:a:example:appliance:2.0:*:*:*:*:*:*:*",
                    "version": "2.0",
                },
                "status": "affected",
            }
        ],
    }
    bundle = to_stix(record)
    assert strict_errors(bundle) == []
    objects = {o["id"]: o for o in bundle["objects"]}
    (vuln,) = [o for o in objects.values() if o["type"] == "vulnerability"]
    targets = {
        objects[o["target_ref"]]["name"]: (objects[o["target_ref"]], o["description"])
        for o in objects.values()
        if o["type"] == "relationship" and o["source_ref"] == vuln["id"]
    }
    fastcache, said = targets["fastcache"]
    assert fastcache["x_purl"] == "pkg:pypi/fastcache" and "vers:pypi/>=0.3.0|<0.5.2" in said
    appliance, _ = targets["appliance"]
    assert appliance["version"] == "2.0"
    assert appliance["cpe"] == "cpe:2.3:a:example:appliance:2.0:*:*:*:*:*:*:*"
    native, _ = CORPUS["native-package"]
    (sw,) = [o for o in to_stix(native)["objects"] if o["type"] == "software"]
    assert (sw["version"], sw["x_purl"]) == ("2.4.0", "pkg:pypi/tinyparse@2.4.0")
