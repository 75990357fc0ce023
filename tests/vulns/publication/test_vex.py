"""VEX from one status model: OpenVEX (its JSON schema), CycloneDX VEX (cyclonedx-python-lib's
validator) and CSAF VEX (`csaf` and the BSI/secvisogram mandatory tests) over a corpus of every
record shape, and the same statuses in every format."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.vex import (
    Justification,
    Product,
    ProductStatus,
    VexStatus,
    to_csaf_vex,
    to_cyclonedx_vex,
    to_openvex,
    vex_subject,
)
from tests.support.record_shapes import corpus
from tests.support.vulns import csaf20_valid, golden, submit
from tests.support.world import Member

REPO = Path(__file__).parents[3]
OPENVEX_SCHEMA = json.loads((REPO / "tests/data/openvex/openvex_json_schema.json").read_text())
NODE_RUNNER = REPO / "tests/support/csaf_vex_validator.mjs"
CORPUS = corpus()


def openvex_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        OPENVEX_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [e.message for e in validator.iter_errors(doc)]


def cyclonedx_error(doc: dict[str, Any]) -> object:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))


def secvisogram(docs: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, list[Any]]:
    """name → the failed mandatory tests of the BSI/secvisogram validator."""
    lib = REPO / "node_modules/@secvisogram/csaf-validator-lib"
    if shutil.which("node") is None or not lib.exists():
        pytest.skip("node or @secvisogram/csaf-validator-lib not installed (npm ci)")
    files = {}
    for name, doc in docs.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(doc))
    proc = subprocess.run(
        ["node", str(NODE_RUNNER), *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    by_file = {r["file"]: r["failed"] for r in json.loads(proc.stdout)}
    return {name: by_file[str(path)] for name, path in files.items()}


def test_every_record_shape_passes_the_three_vex_validators(tmp_path: Path) -> None:
    csaf_docs = {}
    for name, (record, _) in CORPUS.items():
        subject = vex_subject(record)
        assert openvex_errors(to_openvex(subject)) == [], name
        assert cyclonedx_error(to_cyclonedx_vex(subject)) is None, name
        csaf_docs[name] = to_csaf_vex(subject, to_csaf(record))
        assert csaf20_valid(csaf_docs[name]), name
    failures = {k: v for k, v in secvisogram(csaf_docs, tmp_path).items() if v}
    assert failures == {}


def _statuses(doc_openvex: dict, doc_cdx: dict, doc_csaf: dict) -> tuple[set, set, set]:
    openvex = {(s["products"][0]["@id"], s["status"]) for s in doc_openvex["statements"]}
    cdx_refs = {c["bom-ref"]: c.get("purl", c["name"]) for c in doc_cdx["components"]}
    cdx = {
        (cdx_refs[a["ref"]], v.get("version") or v.get("range"), vuln["analysis"]["state"])
        for vuln in doc_cdx["vulnerabilities"]
        for a in vuln["affects"]
        for v in a.get("versions", [{}])
    }
    csaf = {
        (key, pid)
        for key, pids in doc_csaf["vulnerabilities"][0]["product_status"].items()
        for pid in pids
    }
    return openvex, cdx, csaf


def test_one_statement_reaches_every_format_the_same_way() -> None:
    """A coordinator's per-vendor statement (the seam the cases feed) given as `extra`: not
    affected, with its justification, in all three formats; the record's own fix, fixed."""
    record = golden("CH-2099-00007.osv.json")
    extra = ProductStatus(
        Product(name="acme-cache", purl="pkg:pypi/acme-cache", version="3.1"),
        VexStatus.not_affected,
        Justification.vulnerable_code_not_in_execute_path,
    )
    subject = vex_subject(record, [extra])
    openvex, cdx, csaf = (
        to_openvex(subject),
        to_cyclonedx_vex(subject),
        to_csaf_vex(subject, to_csaf(record)),
    )
    (stmt,) = [s for s in openvex["statements"] if "acme-cache" in s["products"][0]["@id"]]
    assert stmt["status"] == "not_affected"
    assert stmt["justification"] == "vulnerable_code_not_in_execute_path"
    (vuln,) = [v for v in cdx["vulnerabilities"] if v["analysis"]["state"] == "not_affected"]
    assert vuln["analysis"]["justification"] == "code_not_reachable"
    assert vuln["affects"][0]["versions"] == [{"status": "unaffected", "version": "3.1"}]
    v = csaf["vulnerabilities"][0]
    (pid,) = v["product_status"]["known_not_affected"]
    assert {"label": "vulnerable_code_not_in_execute_path", "product_ids": [pid]} in v["flags"]
    fixed = {s["products"][0]["@id"] for s in openvex["statements"] if s["status"] == "fixed"}
    assert fixed == {"pkg:pypi/fastcache@0.5.2"}
    assert {
        p["product"]["product_identification_helper"]["purl"]
        for p in _leaves(csaf["product_tree"])
        if p["product"]["product_id"] in v["product_status"]["fixed"]
    } == {"pkg:pypi/fastcache@0.5.2"}


def _leaves(tree: dict) -> list[dict]:
    out = []
    for branch in tree.get("branches", []):
        if "product" in branch:
            out.append(branch)
        out += _leaves(branch)
    return out


def test_not_affected_without_justification_carries_its_impact_statement() -> None:
    record, _ = CORPUS["osv-with-vex-statements"]
    subject = vex_subject(record)
    openvex = to_openvex(subject)
    (stmt,) = [
        s for s in openvex["statements"] if s["products"][0].get("identifiers", {}).get("cpe23")
    ]
    assert stmt["impact_statement"] == "The appliance never enables the eviction callback."
    csaf = to_csaf_vex(subject, to_csaf(record))
    assert csaf["vulnerabilities"][0]["threats"][0]["details"] == stmt["impact_statement"]


@pytest.mark.parametrize(
    "statement",
    [
        {"product": {"name": "x"}, "status": "exploited"},  # no such status
        {"product": {"name": "x"}, "status": "not_affected", "justification": "trust me"},
        {"status": "affected"},  # no product
        "not affected",
    ],
)
def test_a_forged_stored_statement_is_refused_not_published(statement: object) -> None:
    record = golden("CH-2099-00007.osv.json")
    record["database_specific"]["vex"] = [statement]
    with pytest.raises(InvalidInput) as exc:
        vex_subject(record)
    assert exc.value.code == "vex_statement_invalid"


def test_a_record_naming_no_product_has_no_vex() -> None:
    record = {"id": "CH-2026-00001", "modified": "2026-01-01T00:00:00Z", "summary": "x"}
    with pytest.raises(InvalidInput) as exc:
        vex_subject(record)
    assert exc.value.code == "vex_no_products"


def test_vex_exports_over_http(client: TestClient, people: dict[str, Member]) -> None:
    rep = submit(client, people["lab"])
    h = people["lab"].headers
    url = f"/api/v1/vulns/{rep['vuln_id']}/export"
    openvex = client.get(f"{url}?format=openvex", headers=h)
    assert openvex.status_code == 200 and openvex_errors(openvex.json()) == []
    assert openvex.json()["statements"][0]["products"][0]["@id"] == "pkg:pypi/tinyparse@2.4.0"
    cdx = client.get(f"{url}?format=cyclonedx-vex", headers=h)
    assert cdx.status_code == 200 and cyclonedx_error(cdx.json()) is None
    csaf = client.get(f"{url}?format=csaf-vex", headers=h)
    assert csaf.status_code == 200 and csaf20_valid(csaf.json())
    bad = client.get(f"{url}?format=openvex%00", headers=h)
    assert bad.status_code == 422
    other = client.get(f"{url}?format=openvex", headers=people["other"].headers)
    assert other.status_code == 404  # another organisation's unpublished report
