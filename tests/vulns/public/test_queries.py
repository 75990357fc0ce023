"""The OSV-compatible public API: osv.dev's query contract, nothing non-public ever served, and
the real pip-audit client against our server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import AffectedPackage, Vulnerability
from tests.conftest import shared_data_dir
from tests.support.server import serving
from tests.support.vulns import (
    count,
    record,
    write_jsonl,
)


def test_query_contract(client: TestClient, loaded: Services) -> None:
    r = client.post(
        "/v1/query",
        content=json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}),
    )  # no Content-Type, like pip-audit
    assert r.status_code == 200
    assert [v["id"] for v in r.json()["vulns"]] == ["PYSEC-A", "PYSEC-B"]
    assert (
        client.post(
            "/v1/query", json={"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.7"}
        ).json()["vulns"][0]["id"]
        == "PYSEC-A"
    )
    assert (
        client.post(
            "/v1/query", json={"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "2.0"}
        ).json()
        == {}
    )
    miscased = client.post(
        "/v1/query", json={"package": {"name": "demo", "ecosystem": "pypi"}, "version": "1.0"}
    )  # ecosystems are case-sensitive, and an unknown one is refused, as on osv.dev
    assert miscased.status_code == 400 and miscased.json()["code"] == 3
    assert "'PyPI'" in miscased.json()["message"]
    purl = client.post("/v1/query", json={"package": {"purl": "pkg:pypi/other-pkg@0.4"}}).json()
    assert [v["id"] for v in purl["vulns"]] == ["PYSEC-C"]  # PEP 503 name normalisation
    both = client.post(
        "/v1/query", json={"package": {"purl": "pkg:pypi/demo@1.0"}, "version": "1.0"}
    )
    assert both.status_code == 400 and both.json()["code"] == 3
    assert client.post("/v1/query", content=b"{nope").status_code == 400
    all_versions = client.post(
        "/v1/query", json={"package": {"name": "demo", "ecosystem": "PyPI"}}
    ).json()
    assert {v["id"] for v in all_versions["vulns"]} == {"PYSEC-A", "PYSEC-B"}


def test_querybatch_and_get(client: TestClient, loaded: Services) -> None:
    batch = client.post(
        "/v1/querybatch",
        json={
            "queries": [
                {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"},
                {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "9.0"},
            ]
        },
    ).json()
    assert batch["results"][0]["vulns"] == [
        {"id": "PYSEC-A", "modified": "2026-01-01T00:00:00Z"},
        {"id": "PYSEC-B", "modified": "2026-01-01T00:00:00Z"},
    ]
    assert batch["results"][1] == {}
    assert client.get("/v1/vulns/PYSEC-A").json()["aliases"] == ["CVE-2026-0001"]
    # Ids only: an alias is looked up separately, and lists every record that carries it.
    assert client.get("/v1/vulns/CVE-2026-0001").status_code == 404
    assert client.get("/v1/aliases?alias=CVE-2026-0001").json() == {
        "vulns": [{"id": "PYSEC-A", "modified": "2026-01-01T00:00:00Z"}]
    }
    assert client.get("/v1/aliases?alias=CVE-1999-0001").json() == {}
    missing = client.get("/v1/vulns/NOPE-1")
    assert missing.status_code == 404 and missing.json() == {"code": 5, "message": "Bug not found."}
    too_many = client.post(
        "/v1/querybatch", json={"queries": [{"package": {"purl": "pkg:pypi/x"}}] * 1001}
    )
    assert too_many.status_code == 400


def test_nothing_non_public_is_ever_served(client: TestClient, loaded: Services) -> None:
    q = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    served = json.dumps(
        [
            client.post("/v1/query", json=q).json(),
            client.post("/v1/querybatch", json={"queries": [q]}).json(),
            client.get("/v1/vulns?modified_since=2000-01-01T00:00:00Z").json(),
        ]
    )
    assert "SECRET" not in served and "PYSEC-A" in served
    for sid in ("SECRET-1", "SECRET-2"):
        assert client.get(f"/v1/vulns/{sid}").status_code == 404
    # After the embargo date, the embargoed record is public.
    with loaded.db.transaction() as s:
        s.scalars(
            select(Vulnerability).where(Vulnerability.source_id == "SECRET-1")
        ).one().embargo_until = utcnow() - timedelta(seconds=1)
    assert client.get("/v1/vulns/SECRET-1").status_code == 200


def test_modified_since(client: TestClient, loaded: Services) -> None:
    r = client.get("/v1/vulns?modified_since=2025-12-31T00:00:00Z").json()
    assert {v["id"] for v in r["vulns"]} == {"PYSEC-A", "PYSEC-B", "PYSEC-C"}
    assert client.get("/v1/vulns?modified_since=2026-06-01T00:00:00Z").json() == {"vulns": []}
    assert count(loaded, AffectedPackage) == 5


@pytest.mark.shared_data
@pytest.mark.slow
def test_pip_audit_against_our_server(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    pip_audit = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    assert pip_audit, "pip-audit is a dev dependency"
    result = import_file(
        services.db, Principal.system(), shared_data_dir() / "osv-pypa" / "osv-pypa.jsonl.gz"
    )
    assert result.created > 2500 and not result.rejected
    with serving(cli_env) as base:
        req = tmp_path / "requirements.txt"
        req.write_text("jinja2==2.4.1\nrequests==2.19.0\nurllib3==2.2.3\n")
        out = subprocess.run(
            [
                pip_audit,
                "-s",
                "osv",
                "--osv-url",
                f"{base}/v1/query",
                "-r",
                str(req),
                "--no-deps",
                "--disable-pip",
                "-f",
                "json",
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 1, out.stderr  # pip-audit exits 1 when it finds vulnerabilities
    deps = {d["name"]: d for d in json.loads(out.stdout)["dependencies"]}
    jinja = {v["id"]: v["fix_versions"] for v in deps["jinja2"]["vulns"]}
    assert jinja["PYSEC-2014-8"] == ["2.7.2"] and jinja["PYSEC-2019-217"] == ["2.10.1"]
    assert "PYSEC-2018-28" in {v["id"] for v in deps["requests"]["vulns"]}
    assert deps["urllib3"]["vulns"] == []  # a version newer than this data's advisories


def test_the_server_survives_clients_that_give_up_under_load(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Many concurrent queries whose clients disconnect before the answer (as load generators
    and impatient scanners do) must neither leak pooled connections nor stall the server: it
    must still answer promptly afterwards. (It once did both.)"""
    import asyncio

    path = write_jsonl(tmp_path / "r.jsonl", [record(f"PYSEC-2026-{n}") for n in range(50)])
    import_file(services.db, Principal.system(), path)
    batch = {
        "queries": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}] * 1000
    }

    async def impatient(client: httpx.AsyncClient, base: str, until: float) -> None:
        while time.monotonic() < until:
            try:
                await client.post(f"{base}/v1/querybatch", json=batch, timeout=0.5)
            except httpx.HTTPError:
                pass  # gave up: the server sees a disconnect

    async def storm(base: str) -> None:
        # Like `wrk -c64` for a few seconds, with clients that give up after half a second.
        until = time.monotonic() + 6
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as client:
            await asyncio.gather(*(impatient(client, base, until) for _ in range(64)))

    with serving(cli_env) as base:
        asyncio.run(storm(base))
        started = time.monotonic()
        r = httpx.post(f"{base}/v1/querybatch", json=batch, timeout=20)
        assert r.status_code == 200 and len(r.json()["results"]) == 1000
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 10
