"""osv.dev's contract where ours once differed (issue 13): per-item querybatch answers, commit
queries, withdrawn records never matched, unknown ecosystems refused, ids that the OSV schema
admits, and a modified-since feed that pages without losing records."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert_batch
from tests.support.vulns import record, write_jsonl

COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
FIX = "ffffffffffffffffffffffffffffffffffffffff"


def _git_record(rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": "https://example.org/repo.git",
                        "events": [{"introduced": COMMIT}, {"fixed": FIX}],
                    }
                ]
            }
        ],
    }


def test_a_mixed_querybatch_gets_an_answer_per_item(
    client: TestClient, loaded: Services, tmp_path: Path
) -> None:
    """A commit query, an unmapped purl type or a malformed item once failed the whole batch
    with a 400; osv.dev answers per item."""
    import_file(
        loaded.db, Principal.system(), write_jsonl(tmp_path / "g.jsonl", [_git_record("OSV-G-1")])
    )
    batch = {
        "queries": [
            {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"},
            {"package": {"purl": "pkg:pypi/demo@1.0"}},
            {"commit": COMMIT},
            {"commit": COMMIT.upper()},
            {"commit": FIX},  # the fixing commit is not affected
            {"package": {"purl": "pkg:generic/openssl@3.0"}},
            {"package": {"purl": "pkg:pypi/"}},  # a malformed purl
            {"package": {"name": "demo", "ecosystem": "pypi"}, "version": "1.0"},
            {"commit": "not hex"},
            "not an object",
        ]
    }
    r = client.post("/v1/querybatch", json=batch)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 10
    ids = [[v["id"] for v in res.get("vulns", [])] for res in results]
    assert ids[:6] == [
        ["PYSEC-A", "PYSEC-B"],
        ["PYSEC-A", "PYSEC-B"],
        ["OSV-G-1"],
        ["OSV-G-1"],
        [],
        [],
    ]
    assert results[5] == {}
    for bad in results[6:]:
        assert set(bad) == {"error"} and bad["error"]["code"] == 3, bad
    assert "PyPI" in results[7]["error"]["message"]
    single = client.post("/v1/query", json={"commit": COMMIT}).json()
    assert [v["id"] for v in single["vulns"]] == ["OSV-G-1"]
    both = client.post("/v1/query", json={"commit": COMMIT, "package": {"purl": "pkg:pypi/a"}})
    assert both.status_code == 400 and both.json()["code"] == 3


def test_withdrawn_records_are_never_matched(
    client: TestClient, loaded: Services, tmp_path: Path
) -> None:
    gone = record("PYSEC-W") | {"withdrawn": "2026-01-02T00:00:00Z"}
    gone_git = _git_record("OSV-W-2") | {"withdrawn": "2026-01-02T00:00:00Z"}
    import_file(loaded.db, Principal.system(), write_jsonl(tmp_path / "w.jsonl", [gone, gone_git]))
    q = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    assert [v["id"] for v in client.post("/v1/query", json=q).json()["vulns"]] == [
        "PYSEC-A",
        "PYSEC-B",
    ]
    batch = client.post("/v1/querybatch", json={"queries": [q, {"commit": COMMIT}]}).json()
    assert "PYSEC-W" not in json.dumps(batch) and batch["results"][1] == {}
    # Still served by id, with its withdrawn date, and in the feed (a mirror must learn of it).
    assert client.get("/v1/vulns/PYSEC-W").json()["withdrawn"] == "2026-01-02T00:00:00Z"
    feed = client.get("/v1/vulns?modified_since=2025-01-01T00:00:00Z").json()
    assert "PYSEC-W" in {v["id"] for v in feed["vulns"]}


def test_unknown_or_miscased_ecosystems_are_a_400(client: TestClient, loaded: Services) -> None:
    for eco in ("pypi", "PYPI", "NoSuchEcosystem", "Debian:", "", "Go "):
        q = {"package": {"name": "demo", "ecosystem": eco}, "version": "1.0"}
        r = client.post("/v1/query", json=q)
        assert r.status_code == 400 and set(r.json()) == {"code", "message"}, (eco, r.text)
        assert r.json()["code"] == 3
    for eco in ("PyPI", "Debian:12", "Alpine:v3.19", "crates.io"):
        q = {"package": {"name": "demo", "ecosystem": eco}, "version": "1.0"}
        assert client.post("/v1/query", json=q).status_code == 200, eco


def test_modified_since_pages_over_records_that_share_one_timestamp(
    client: TestClient, services: Services
) -> None:
    """1,200 records modified in the same second: strictly-greater-than with a cap of 1,000
    and no token lost 200 of them. Inclusive boundary, (modified, id) order, page token."""
    stamp = "2026-03-01T12:00:00Z"
    docs = [canonical(record(f"PYSEC-2026-{n:05d}", modified=stamp)) for n in range(1200)]
    docs.append(canonical(record("PYSEC-2026-LATER", modified="2026-03-02T00:00:00Z")))
    with services.db.transaction() as s:
        upsert_batch(s, docs)
    seen: list[str] = []
    params = {"modified_since": stamp, "limit": "500"}
    pages = 0
    while True:
        r = client.get("/v1/vulns?" + urlencode(params))
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [v["id"] for v in body["vulns"]]
        pages += 1
        if "next_page_token" not in body:
            break
        params["page_token"] = body["next_page_token"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 1201
    assert seen[-1] == "PYSEC-2026-LATER" and seen[:2] == ["PYSEC-2026-00000", "PYSEC-2026-00001"]
    # A forged token is osv.dev's 400, not a 5xx and not problem+json.
    for token in ("%%%", base64.urlsafe_b64encode(b"[1, 2]").decode(), "eyJ4IjogMX0="):
        r = client.get("/v1/vulns?" + urlencode({"modified_since": stamp, "page_token": token}))
        assert r.status_code == 400 and r.json()["code"] == 3, (token, r.text)


def test_native_ids_are_served_in_the_schemas_form_and_stay_resolvable(
    client: TestClient, loaded: Services
) -> None:
    """SECRET is no home database the OSV schema registers: the record is served as
    `x_SECRET-2` (the schema's prefix for unregistered databases), and resolvable by either."""
    from datetime import timedelta

    from sqlalchemy import select

    from clearinghouse.core.clock import utcnow
    from clearinghouse.vulns.models import Vulnerability

    with loaded.db.transaction() as s:
        v = s.scalars(select(Vulnerability).where(Vulnerability.source_id == "SECRET-1")).one()
        v.embargo_until = utcnow() - timedelta(seconds=1)
    for path in ("/v1/vulns/SECRET-1", "/v1/vulns/x_SECRET-1"):
        r = client.get(path)
        assert r.status_code == 200 and r.json()["id"] == "x_SECRET-1", path
    q = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    assert "x_SECRET-1" in [v["id"] for v in client.post("/v1/query", json=q).json()["vulns"]]
