"""OSV import and the OSV-compatible public API: idempotent, transactional imports that refuse
bad records with reasons; osv.dev's query contract; nothing non-public ever served; and the
real pip-audit client against our server."""

from __future__ import annotations

import functools
import gzip
import json
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import AffectedPackage, Vulnerability, VulnerabilityAlias
from tests.conftest import shared_data_dir
from tests.support.server import serving


def record(
    rid: str,
    *,
    modified: str = "2026-01-01T00:00:00Z",
    name: str = "demo",
    fixed: str = "2.0",
    aliases: list[str] | None = None,
) -> dict:
    return {
        "id": rid,
        "modified": modified,
        "aliases": aliases or [],
        "summary": f"{rid} summary",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def count(services: Services, model: type) -> int:
    with services.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_import_is_idempotent_and_updates_only_newer(services: Services, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "a.jsonl", [record("PYSEC-1", aliases=["CVE-2026-1"]), record("PYSEC-2")]
    )
    assert import_file(services.db, Principal.system(), f).as_dict() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    assert import_file(services.db, Principal.system(), f).as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "rejected": [],
    }
    newer = write_jsonl(
        tmp_path / "b.jsonl",
        [
            record("PYSEC-1", modified="2026-02-01T00:00:00Z", fixed="3.0"),
            record("PYSEC-2", modified="2025-01-01T00:00:00Z", fixed="9.9"),
        ],
    )
    assert import_file(services.db, Principal.system(), newer).as_dict() == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "rejected": [],
    }
    with services.db.transaction() as s:
        v = s.scalars(select(Vulnerability).where(Vulnerability.source_id == "PYSEC-1")).one()
        assert v.id.startswith("CH-2026-") and v.record["affected"][0]["ranges"][0]["events"][
            1
        ] == {"fixed": "3.0"}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"modified": "2026-01-01T00:00:00Z"}, "id"),
        ({"id": "X-1", "modified": "yesterday"}, "modified"),
        # the timestamp's shape, but no such day: it once aborted the whole import
        ({"id": "X-1", "modified": "2026-02-30T00:00:00Z"}, "modified"),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "published": "0000-01-01T00:00:00Z"},
            "published",
        ),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "withdrawn": "2026-01-01T25:00:00Z"},
            "withdrawn",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [{"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1"}]}]}],
            },
            "introduced",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [
                    {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}]}
                ],
            },
            "exactly one",
        ),
        ({"id": "X-1", "modified": "2026-01-01T00:00:00Z", "summary": "nul\x00"}, "NUL"),
        # the OSV schema's enumerations
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "references": [{"type": "BLOG", "url": "https://example.org"}],
            },
            "references.0.type",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "severity": [{"type": "CVSS_V5", "score": "x"}],
            },
            "severity.0.type",
        ),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "credits": [{"type": "FINDER"}]},
            "name",
        ),
        ("{not json", "JSON"),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                # quotes in text once hid brackets from a scan of the JSON text
                "summary": 'a "quoted" word and a backslash \\',
                "database_specific": functools.reduce(
                    lambda inner, _: {"x": [inner]}, range(20), {}
                ),
            },
            "nests too deeply",
        ),
    ],
)
def test_malformed_records_are_rejected_with_a_reason_and_store_nothing(
    services: Services, tmp_path: Path, bad: object, reason: str
) -> None:
    f = write_jsonl(tmp_path / "bad.jsonl", [bad, record("GOOD-1")])
    result = import_file(services.db, Principal.system(), f)
    assert result.created == 1 and len(result.rejected) == 1
    assert result.rejected[0]["source"] == "bad.jsonl:1" and reason in result.rejected[0]["reason"]
    assert count(services, Vulnerability) == 1 and count(services, VulnerabilityAlias) == 2


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0999-01-01T00:00:00Z"]
)
def test_csaf_and_cve5_timestamps_out_of_range_are_format_errors(when: str) -> None:
    """The CSAF and CVE 5 converters read their documents' times through `osv_timestamp`;
    a time that does not exist in UTC was an OverflowError that aborted the import."""
    from clearinghouse.vulns.errors import FormatError
    from clearinghouse.vulns.intake.common import osv_timestamp

    with pytest.raises(FormatError, match="in range"):
        osv_timestamp(when)
    assert osv_timestamp("2026-01-01T00:00:00-14:00") == "2026-01-01T14:00:00Z"


def test_zip_and_gzip_inputs_and_zip_bombs(services: Services, tmp_path: Path) -> None:
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../../etc/evil.json", json.dumps(record("ZIP-1")))  # a path is never used
        archive.writestr("bomb.json", b"[" + b" " * (40 * 1024**2) + b"]")
        archive.writestr("notes.txt", "ignored")
    result = import_file(services.db, Principal.system(), z)
    assert result.created == 1 and "zip bomb" in result.rejected[0]["reason"]
    assert not Path("/etc/evil.json").exists()
    gz = tmp_path / "x.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps(record("GZ-1")) + "\n")
    assert import_file(services.db, Principal.system(), gz).created == 1


@pytest.fixture
def loaded(services: Services, tmp_path: Path) -> Services:
    records = [
        record("PYSEC-A", aliases=["CVE-2026-0001"]),
        record("PYSEC-B", fixed="1.5"),
        record("PYSEC-C", name="Other_Pkg", fixed="0.5"),
    ]
    import_file(services.db, Principal.system(), write_jsonl(tmp_path / "r.jsonl", records))
    # Two records that must never be public: one embargoed, one TLP:AMBER and not yet published.
    import_file(
        services.db,
        Principal.system(),
        write_jsonl(tmp_path / "s.jsonl", [record("SECRET-1"), record("SECRET-2")]),
    )
    with services.db.transaction() as s:
        for v in s.scalars(select(Vulnerability).where(Vulnerability.source_id.like("SECRET-%"))):
            if v.source_id == "SECRET-1":
                v.embargo_until = utcnow() + timedelta(days=7)
            else:
                v.tlp, v.status = "AMBER", "triaged"
    return services


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
    assert (
        client.post(
            "/v1/query", json={"package": {"name": "demo", "ecosystem": "pypi"}, "version": "1.0"}
        ).json()
        == {}
    )  # ecosystems are case-sensitive
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
    assert client.get("/v1/vulns/CVE-2026-0001").json()["id"] == "PYSEC-A"  # by alias
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


def test_an_embargo_that_ends_with_no_change_in_the_database_ends_in_cached_answers(
    client: TestClient, loaded: Services
) -> None:
    """Answers are cached until the database changes; an embargo ends by the clock alone, so
    a cached answer that leaves an embargoed record out must expire when the embargo does."""
    with loaded.db.transaction() as s:
        s.scalars(
            select(Vulnerability).where(Vulnerability.source_id == "SECRET-1")
        ).one().embargo_until = utcnow() + timedelta(seconds=1.5)
    q = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}

    def served() -> tuple[list[str], list[str]]:
        single = client.post("/v1/query", json=q).json()
        batch = client.post("/v1/querybatch", json={"queries": [q]}).json()
        return [v["id"] for v in single["vulns"]], [v["id"] for v in batch["results"][0]["vulns"]]

    assert served() == (["PYSEC-A", "PYSEC-B"], ["PYSEC-A", "PYSEC-B"])
    assert served() == (["PYSEC-A", "PYSEC-B"], ["PYSEC-A", "PYSEC-B"])  # from the caches
    time.sleep(1.6)
    assert served() == (["PYSEC-A", "PYSEC-B", "SECRET-1"], ["PYSEC-A", "PYSEC-B", "SECRET-1"])


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


def test_the_freshness_probe_replaces_a_broken_connection(loaded: Services) -> None:
    db = loaded.db
    first = db.probe("SELECT max(updated_at) FROM vulnerabilities")
    assert first is not None
    db._probe_conn.invalidate()  # as a database restart would leave it
    assert db.probe("SELECT max(updated_at) FROM vulnerabilities") == first
    db.dispose()
    assert db.probe("SELECT count(*) FROM vulnerabilities") == 5


def test_an_answer_computed_across_a_reload_is_not_cached(
    loaded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that overlaps a reload (another thread, on PostgreSQL) must not leave its
    answer, computed from the old index, in the caches."""
    from clearinghouse.vulns.public import index as public_index

    index = public_index.index_for(loaded.db)
    real = public_index._affects

    def affects_during_a_reload(version: str, entry: public_index.Entry) -> bool:
        index.reloads += 1  # what a reload in another thread does meanwhile
        return real(version, entry)

    monkeypatch.setattr(public_index, "_affects", affects_during_a_reload)
    now = utcnow()
    assert [e.source_id for e in index.lookup("PyPI", "demo", "1.0")] == ["PYSEC-A", "PYSEC-B"]
    index.batch_answer("PyPI", "demo", "1.1", now)
    assert not index.cache and not index.answers
    monkeypatch.setattr(public_index, "_affects", real)
    index.batch_answer("PyPI", "demo", "1.1", now)
    assert ("PyPI", "demo", "1.1") in index.cache and ("PyPI", "demo", "1.1") in index.answers


def test_huge_query_keys_are_answered_but_never_cached(
    client: TestClient, loaded: Services
) -> None:
    """Anonymous clients choose the cache keys: a huge package name must not stay in memory."""
    from clearinghouse.vulns.public import index as public_index

    huge = {"package": {"name": "x" * 5000, "ecosystem": "PyPI"}, "version": "1.0"}
    assert client.post("/v1/query", json=huge).json() == {}
    assert client.post("/v1/querybatch", json={"queries": [huge]}).json() == {"results": [{}]}
    index = public_index.index_for(loaded.db)
    assert not any(len(key[1]) > 1000 for key in [*index.cache, *index.answers])
    normal = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    client.post("/v1/querybatch", json={"queries": [normal]})
    assert ("PyPI", "demo", "1.0") in index.answers
