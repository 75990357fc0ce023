"""HTTP semantics of the public OSV routes (`api.http`): gzip when accepted, strong ETags with
304, Last-Modified, Cache-Control, CORS with preflight, HEAD; and no permissive CORS on the
authenticated API."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from clearinghouse.accounts.policy import Principal
from clearinghouse.api.http import accepts_gzip
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from tests.support.server import serving
from tests.support.vulns import record, write_jsonl

Q = {"package": {"name": "demo", "ecosystem": "PyPI"}}
IDENTITY = {"Accept-Encoding": "identity"}


def test_strong_etags_answer_304_and_last_modified(client: TestClient, loaded: Services) -> None:
    first = client.get("/v1/vulns/PYSEC-A", headers=IDENTITY)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["last-modified"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    for inm in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        again = client.get("/v1/vulns/PYSEC-A", headers=IDENTITY | {"If-None-Match": inm})
        assert again.status_code == 304 and again.content == b"", inm
        assert again.headers["etag"] == etag
    changed = client.get("/v1/vulns/PYSEC-A", headers=IDENTITY | {"If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.json()["id"] == "PYSEC-A"
    ims = client.get(
        "/v1/vulns/PYSEC-A", headers={"If-Modified-Since": "Fri, 02 Jan 2026 00:00:00 GMT"}
    )
    assert ims.status_code == 304
    older = client.get(
        "/v1/vulns/PYSEC-A", headers={"If-Modified-Since": "Wed, 31 Dec 2025 00:00:00 GMT"}
    )
    assert older.status_code == 200
    garbage = client.get("/v1/vulns/PYSEC-A", headers={"If-Modified-Since": "not a date"})
    assert garbage.status_code == 200
    # Errors are never cached.
    assert client.get("/v1/vulns/NOPE-1").headers["cache-control"] == "no-store"


def test_gzip_when_accepted_with_its_own_etag(
    client: TestClient, loaded: Services, tmp_path: Path
) -> None:
    plain = client.post("/v1/query", json=Q, headers=IDENTITY)
    assert "content-encoding" not in plain.headers
    with client.stream("POST", "/v1/query", json=Q, headers={"Accept-Encoding": "gzip"}) as zipped:
        wire = b"".join(zipped.iter_raw())
    assert zipped.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(wire)) == plain.json()
    assert int(zipped.headers["content-length"]) == len(wire) < len(plain.content)
    assert zipped.headers["vary"] == "Accept-Encoding"
    # POST answers are not revalidated by anyone: no ETag to compute on a 5 MB batch.
    assert "etag" not in zipped.headers and "etag" not in plain.headers
    refused = client.post("/v1/query", json=Q, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    # GET: one strong ETag per representation, and either one revalidates.
    big = record("PYSEC-BIG") | {"details": "x" * 5000}
    import_file(loaded.db, Principal.system(), write_jsonl(tmp_path / "big.jsonl", [big]))
    ident = client.get("/v1/vulns/PYSEC-BIG", headers=IDENTITY)
    with client.stream("GET", "/v1/vulns/PYSEC-BIG", headers={"Accept-Encoding": "gzip"}) as gz:
        assert json.loads(gzip.decompress(b"".join(gz.iter_raw()))) == ident.json()
    assert gz.headers["etag"] != ident.headers["etag"]
    for tag in (gz.headers["etag"], ident.headers["etag"]):
        again = client.get("/v1/vulns/PYSEC-BIG", headers={"If-None-Match": tag})
        assert again.status_code == 304
    assert accepts_gzip("br, gzip;q=0.5") and accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("identity") and not accepts_gzip("")


def test_cors_preflight_and_head(client: TestClient, loaded: Services) -> None:
    pre = client.options(
        "/v1/querybatch",
        headers={
            "Origin": "https://scanner.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204, pre.text  # was 405
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "content-type"
    assert "access-control-allow-credentials" not in pre.headers
    hostile = client.options(
        "/v1/vulns/PYSEC-A", headers={"Access-Control-Request-Headers": "x\r\nSet-Cookie: a=b"}
    )
    assert "set-cookie" not in hostile.headers
    answer = client.post("/v1/query", json=Q, headers={"Origin": "https://scanner.example"})
    assert answer.headers["access-control-allow-origin"] == "*"
    error = client.post("/v1/query", content=b"{", headers={"Origin": "https://x.example"})
    assert error.status_code == 400 and error.headers["access-control-allow-origin"] == "*"
    assert "ETag" in answer.headers["access-control-expose-headers"]
    get = client.get("/v1/vulns/PYSEC-A", headers=IDENTITY)
    head = client.head("/v1/vulns/PYSEC-A", headers=IDENTITY)
    assert head.status_code == 200 and head.content == b""  # was 405
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))
    feed = client.head("/v1/vulns?modified_since=2000-01-01T00:00:00Z")
    assert feed.status_code == 200
    # HEAD and OPTIONS are served, not documented as operations of their own.
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths["/v1/vulns/{vuln_id}"]) == {"get"}


def test_authenticated_routes_get_no_permissive_cors(client: TestClient, loaded: Services) -> None:
    origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    pre = client.options("/api/v1/reports", headers=origin)
    assert pre.status_code == 405 and "access-control-allow-origin" not in pre.headers
    r = client.get("/api/v1/reports", headers=origin)
    assert "access-control-allow-origin" not in r.headers


def test_head_and_gzip_over_a_real_server(loaded: Services, cli_env: dict[str, str]) -> None:
    """Through uvicorn on 127.0.0.1: HEAD sends no body, gzip is decoded by a real client."""
    with serving(cli_env) as base, httpx.Client(base_url=base) as http:
        head = http.head("/v1/vulns/PYSEC-A")
        assert head.status_code == 200 and head.content == b""
        r = http.post("/v1/query", json=Q, headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert [v["id"] for v in r.json()["vulns"]] == ["PYSEC-A", "PYSEC-B"]
