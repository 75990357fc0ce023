"""CSAF 2.0 and 2.1 exports checked by two independent validators: the `csaf` package and the
BSI's `@secvisogram/csaf-validator-lib` (mandatory tests), on a corpus of imported OSV (Go, PyPI),
CSAF and CVE 5 records and native reports (package, Go, repo+commit)."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.vulns.intake.csaf import csaf_records
from clearinghouse.vulns.intake.cve5 import cve5_record
from clearinghouse.vulns.publication.csaf import filename, release_dates, to_csaf
from tests.conftest import shared_data_dir
from tests.support.vulns import golden

ROOT = Path(__file__).parents[3]
BSI = ROOT / "node_modules" / "@secvisogram" / "csaf-validator-lib"
needs_bsi = pytest.mark.skipif(
    shutil.which("node") is None or not BSI.exists(),
    reason="node or @secvisogram/csaf-validator-lib is not installed (npm ci)",
)


def bsi_validate(paths: list[Path]) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(ROOT / "tests" / "validators" / "csaf_validate.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=600,
    )
    return dict(json.loads(out.stdout))


def csaf_lib_failures(doc: dict[str, Any]) -> list[str]:
    if doc["document"]["csaf_version"] == "2.0":
        from csaf.csaf.v20._validator import validate
    else:
        from csaf import validate
    report = validate(doc, preset="basic")
    return [f"{r.id} {r.errors[:1]}" for r in report.results if not r.passed and not r.skipped]


NATIVE = [
    {  # a package report
        "id": "CH-2099-00101",
        "modified": "2099-01-02T00:00:00Z",
        "summary": "heap overflow in widget",
        "details": "d",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "widget"}, "versions": ["1.2.3"]}],
        "severity": [
            {
                "type": "CVSS_V4",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            }
        ],
    },
    {  # a Go report
        "id": "CH-2099-00102",
        "modified": "2099-01-02T00:00:00Z",
        "summary": "panic in gadget",
        "details": "d",
        "affected": [
            {
                "package": {"ecosystem": "Go", "name": "example.com/gadget"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.4.0"}]}],
            }
        ],
    },
    {  # a repo+commit report, as reports.py writes it and as a GIT range
        "id": "CH-2099-00103",
        "modified": "2099-01-02T00:00:00Z",
        "summary": "use after free in libthing",
        "details": "d",
        "affected": [
            {
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://git.example.org/libthing.git",
                        "events": [{"introduced": "b" * 40}, {"fixed": "c" * 40}],
                    }
                ]
            }
        ],
        "database_specific": {
            "target": {"repository_url": "https://github.com/acme/libthing", "commit": "a" * 40}
        },
    },
    {  # nothing names a product
        "id": "CH-2099-00104",
        "modified": "2099-01-02T00:00:00Z",
        "summary": "a claim with no target",
        "details": "d",
    },
]


def corpus() -> list[dict[str, Any]]:
    records = [golden("CH-2099-00007.osv.json"), *NATIVE]
    for name in ("osv-go/osv-go.jsonl.gz", "osv-pypa/osv-pypa.jsonl.gz"):
        with gzip.open(shared_data_dir() / name, "rt") as fh:
            records += [json.loads(line) for line in itertools.islice(fh, 60)]
    records.append(cve5_record(golden("CVE-2099-0042.cve5.json")))
    records.append({**records[-2], "id": "GO-2099-0001", "published": "0001-01-01T00:00:00Z"})
    base = shared_data_dir() / "csaf" / "csaf_2.0" / "examples" / "csaf"
    for path in sorted(base.rglob("*.json")):
        records += list(csaf_records(json.loads(path.read_text())))[:3]
    return records


@needs_bsi
@pytest.mark.shared_data
@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_every_export_of_the_corpus_passes_both_validators(version: str, tmp_path: Path) -> None:
    """Zero mandatory-test errors under the BSI validator and `csaf validate`, for both
    versions: the product tree (kept or derived) defines every product, 6.1.27.x pass for
    native reports, keys are sorted and the self reference names the document's own file."""
    records = corpus()
    assert any(r["published"].startswith("0001") for r in records if r.get("published"))
    paths, failures = [], {}
    for n, record in enumerate(records):
        doc = to_csaf(record, version=version)
        assert json.dumps(doc) == json.dumps(doc, sort_keys=True)
        (self_ref,) = [r for r in doc["document"]["references"] if r["category"] == "self"]
        assert self_ref["url"].endswith("/" + filename(record["id"]))
        assert "/0001/" not in self_ref["url"]
        assert not doc["document"]["tracking"]["initial_release_date"].startswith("0001")
        if found := csaf_lib_failures(doc):
            failures[f"csaf:{record['id']}"] = found
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    for name, result in bsi_validate(paths).items():
        if not result["isValid"]:
            failures[f"bsi:{records[int(Path(name).stem)]['id']}"] = result["errors"][:3]
    assert failures == {}


def test_21_carries_cvss_40_and_20_does_not() -> None:
    record = NATIVE[0]
    v21 = to_csaf(record, version="2.1")
    assert v21["vulnerabilities"][0]["metrics"][0]["content"]["cvss_v4"]["baseScore"] > 9
    v20 = to_csaf(record, version="2.0")
    assert "scores" not in v20["vulnerabilities"][0]


def test_year_0001_dates_are_replaced_and_the_original_kept() -> None:
    record = {**NATIVE[1], "published": "0001-01-01T00:00:00Z"}
    initial, current, originals = release_dates(record)
    assert initial == current == "2099-01-02T00:00:00+00:00"
    assert originals == {"published": "0001-01-01T00:00:00Z"}
    doc = to_csaf(record)
    assert any("0001-01-01" in n["text"] for n in doc["document"]["notes"])


@pytest.mark.shared_data
def test_a_csaf_import_keeps_its_product_tree_and_not_affected_products() -> None:
    path = shared_data_dir() / "csaf" / "csaf_2.0" / "examples" / "csaf" / "csaf_vex"
    doc = json.loads((path / "2022-evd-uc-08-001.json").read_text())
    (record, *_) = csaf_records(doc)
    out = to_csaf(record)
    assert out["product_tree"] == json.loads(json.dumps(doc["product_tree"], sort_keys=True))
    status = out["vulnerabilities"][0]["product_status"]
    assert (
        status["known_not_affected"]
        == doc["vulnerabilities"][0]["product_status"]["known_not_affected"]
    )
