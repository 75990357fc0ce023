"""What we publish as OSV validates against the OSV JSON schema itself (a pinned copy,
tests/data/osv/SOURCE.md): API answers, exports and the dump, over a corpus of imported PyPI,
Go (placeholder dates, "v" versions) and GIT-range records and a native report."""

from __future__ import annotations

import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.osv import OSV_ECOSYSTEMS, osv_id
from clearinghouse.vulns.publication.dump import dump
from clearinghouse.vulns.publication.export import public_records
from tests.support.vulns import record, submit, write_jsonl
from tests.support.world import Member

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "osv" / "schema.json"


@cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(doc: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator().iter_errors(doc)
    ]


def corpus() -> list[dict[str, Any]]:
    go = {
        "id": "GO-2026-0007",
        "modified": "0001-01-01T00:00:00Z",
        "published": "0001-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Go", "name": "example.com/mod"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "v0"}, {"fixed": "v1.2.4"}]}
                ],
            }
        ],
    }
    git = {
        "id": "OSV-2026-9",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://example.org/r.git",
                        "events": [{"introduced": "a" * 40}, {"fixed": "b" * 40}],
                    }
                ]
            }
        ],
    }
    return [record("PYSEC-2026-1", aliases=["CVE-2026-1"]), go, git, record("ACME-7")]


def test_the_pinned_schema_and_our_lists_agree() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert set(schema["$defs"]["ecosystemName"]["enum"]) == OSV_ECOSYSTEMS
    # Our native ids as stored fail the schema's id pattern; as served they pass.
    bare = {"id": "CH-2026-00001", "modified": "2026-01-01T00:00:00Z"}
    assert errors(bare) and not errors(bare | {"id": osv_id(bare["id"])})
    assert osv_id("PYSEC-2026-1") == "PYSEC-2026-1" and osv_id("x_ACME-1") == "x_ACME-1"


def test_api_answers_exports_and_the_dump_validate(
    client: TestClient,
    services: Services,
    people: dict[str, Member],
    tmp_path: Path,
) -> None:
    result = import_file(
        services.db, Principal.system(), write_jsonl(tmp_path / "c.jsonl", corpus())
    )
    assert result.created == 4 and not result.rejected
    served: list[dict[str, Any]] = []
    feed = client.get("/v1/vulns?modified_since=1970-01-01T00:00:00Z").json()["vulns"]
    assert len(feed) == 4
    for item in feed:
        r = client.get(f"/v1/vulns/{item['id']}")
        assert r.status_code == 200, item
        served.append(r.json())
    q = {"package": {"ecosystem": "PyPI", "name": "demo"}, "version": "1.0"}
    served += client.post("/v1/query", json=q).json()["vulns"]
    served += client.post("/v1/query", json={"commit": "a" * 40}).json()["vulns"]
    assert {d["id"] for d in served} == {"PYSEC-2026-1", "GO-2026-0007", "OSV-2026-9", "x_ACME-7"}
    # A native report, exported by its reporter (not public, so not in the API).
    rep = submit(client, people["lab"])
    r = client.get(
        f"/api/v1/vulns/{rep['vuln_id']}/export?format=osv", headers=people["lab"].headers
    )
    assert r.status_code == 200
    exported = r.json()
    assert exported["id"] == "x_" + rep["vuln_id"]
    summary = dump(public_records(services.db, Principal.system()), tmp_path / "dump")
    dumped = []
    for eco in ("PyPI", "Go"):
        with zipfile.ZipFile(tmp_path / "dump" / eco / "all.zip") as z:
            dumped += [json.loads(z.read(n)) for n in z.namelist()]
    assert summary["records"] == 3 and len(dumped) == 3
    for doc in [*served, exported, *dumped]:
        assert doc["schema_version"] == "1.7.0"
        assert not errors(doc), (doc["id"], errors(doc))
        assert not str(doc.get("published", "2")).startswith("0")
        assert not doc["modified"].startswith("0")


def test_native_reports_are_matchable_a_repo_commit_by_commit_and_go_without_v(
    client: TestClient, people: dict[str, Member]
) -> None:
    """A repo+commit report had no `affected` entry (no GIT range), and a Go report kept the
    purl's "v1.2.3": neither could be matched by an OSV query. Exported as OSV, both now carry
    what a query matches, and validate."""
    commit = "c0ffee" + "0" * 34
    repo = submit(
        client,
        people["lab"],
        target={"repository_url": "https://example.org/acme/tool.git", "commit": commit},
    )
    short = submit(
        client,
        people["lab"],
        target={"repository_url": "https://example.org/acme/tool.git", "commit": "c0ffee1"},
    )
    go = submit(client, people["lab"], target={"purl": "pkg:golang/example.com/mod@v1.2.3"})

    def exported(rep: dict[str, Any]) -> dict[str, Any]:
        r = client.get(
            f"/api/v1/vulns/{rep['vuln_id']}/export?format=osv", headers=people["lab"].headers
        )
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        assert not errors(doc), errors(doc)
        return doc

    ranges = [rg for a in exported(repo)["affected"] for rg in a.get("ranges", [])]
    assert ranges == [
        {
            "type": "GIT",
            "repo": "https://example.org/acme/tool.git",
            "events": [{"introduced": commit}],
        }
    ]
    assert "affected" not in exported(short)  # a short hash is no OSV commit: not claimed
    assert exported(go)["affected"][0]["versions"] == ["1.2.3"]
