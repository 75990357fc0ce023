"""The CSAF trusted provider, read the way an aggregator (gocsaf's csaf_downloader and
csaf_checker) reads it: provider-metadata.json over real HTTP from the server on 127.0.0.1, the
public key it names, the ROLIE feed and index.txt of each folder, every hash, every signature
(checked with gpg against the published key), and the BSI validator on every document.
Adversaries: a tampered document, restricted and embargoed records, hostile paths."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import gnupg
import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from referencing import Registry, Resource
from sqlalchemy import update

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services, build_services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.publication.provider import build
from clearinghouse.vulns.publication.provider.directory import www
from clearinghouse.vulns.records import upsert
from tests.support.server import serving
from tests.support.world import World
from tests.vulns.publication.test_csaf_exports import bsi_validate, needs_bsi

DATA = Path(__file__).parents[2] / "data" / "csaf_provider"
SYSTEM = Principal.system()


def _record(rid: str, summary: str, modified: str = "2026-03-01T00:00:00Z") -> dict[str, Any]:
    return canonical(
        {
            "id": rid,
            "summary": summary,
            "details": f"{summary}: details",
            "published": "2025-06-01T00:00:00Z",
            "modified": modified,
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"pkg-{rid.lower()}"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                    ],
                }
            ],
        }
    )


# The public records, and three that must never reach a public file (each id is unique text).
PUBLIC = ["PUB-0001", "PUB-0002", "PUB-0003"]
EMBARGOED, UNPUBLISHED, AMBER = (
    "SECRET-EMBARGOED-0001",
    "SECRET-UNPUBLISHED-0001",
    "SECRET-AMBER-0001",
)


def seed(services: Services) -> None:
    with services.db.transaction() as s:
        for rid in [*PUBLIC, EMBARGOED, UNPUBLISHED, AMBER]:
            upsert(s, _record(rid, f"flaw in {rid.lower()}"))
        s.flush()
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.source_id == EMBARGOED)
            .values(embargo_until=utcnow() + timedelta(days=30))
        )
        s.execute(
            update(Vulnerability).where(Vulnerability.source_id == UNPUBLISHED).values(status="new")
        )
        s.execute(update(Vulnerability).where(Vulnerability.source_id == AMBER).values(tlp="AMBER"))


def provider_schema() -> jsonschema.protocols.Validator:
    import csaf

    csaf_schema = json.loads(
        (Path(csaf.__file__).parent / "csaf" / "v20" / "schema" / "csaf.json").read_text()
    )
    registry: Registry = Registry().with_resource(
        csaf_schema["$id"], Resource.from_contents(csaf_schema)
    )
    schema = json.loads((DATA / "provider_json_schema.json").read_text())
    return jsonschema.Draft202012Validator(
        schema, registry=registry, format_checker=jsonschema.FormatChecker()
    )


@dataclass
class Fetched:
    """What an aggregator fetched from one folder: every byte, and the documents."""

    bodies: dict[str, bytes]
    documents: dict[str, bytes]
    problems: list[str]


class Aggregator:
    """Reads a provider the way gocsaf's downloader does, and records every problem."""

    def __init__(self, base: str, gnupg_home: Path, headers: dict[str, str] | None = None):
        self.http = httpx.Client(headers=headers or {}, follow_redirects=False, timeout=30)
        self.base = base
        self.metadata = self.get(f"{base}/.well-known/csaf/provider-metadata.json").json()
        gnupg_home.mkdir(mode=0o700, exist_ok=True)
        self.gpg = gnupg.GPG(gnupghome=str(gnupg_home))
        self.home = gnupg_home
        (key,) = self.metadata["public_openpgp_keys"]
        imported = self.gpg.import_keys(self.get(key["url"]).text)
        assert imported.fingerprints == [key["fingerprint"]], "the key is not the one named"

    def get(self, url: str) -> httpx.Response:
        r = self.http.get(url)
        r.raise_for_status()
        return r

    def feed(self, tlp: str) -> dict[str, Any]:
        (rolie,) = [d["rolie"] for d in self.metadata["distributions"] if "rolie" in d]
        (feed,) = [f for f in rolie["feeds"] if f["tlp_label"] == tlp]
        return dict(self.get(feed["url"]).json())

    def fetch_folder(self, tlp: str) -> Fetched:
        bodies: dict[str, bytes] = {}
        documents: dict[str, bytes] = {}
        problems: list[str] = []
        feed = self.feed(tlp)
        bodies["feed"] = json.dumps(feed).encode()
        folder_url = feed["feed"]["link"][0]["href"].rsplit("/", 1)[0]
        index = self.get(f"{folder_url}/index.txt").text.split()
        changes = list(csv.reader(io.StringIO(self.get(f"{folder_url}/changes.csv").text)))
        bodies["index.txt"] = "\n".join(index).encode()
        bodies["changes.csv"] = json.dumps(changes).encode()
        from_feed = {e["content"]["src"] for e in feed["feed"]["entry"]}
        if {f"{folder_url}/{p}" for p in index} != from_feed:
            problems.append("index.txt and the ROLIE feed list different documents")
        if [row[0] for row in changes] != [
            row[0] for row in sorted(changes, key=lambda r: r[1], reverse=True)
        ] or {f"{folder_url}/{row[0]}" for row in changes} != from_feed:
            problems.append("changes.csv is not every document, newest first")
        for entry in feed["feed"]["entry"]:
            url = entry["content"]["src"]
            data = self.get(url).content
            documents[url] = data
            links = {
                (link["rel"], link["href"].rsplit(".", 1)[-1]): link["href"]
                for link in entry["link"]
            }
            for algorithm in ("sha256", "sha512"):
                line = self.get(links[("hash", algorithm)]).text.split()
                if line[0] != hashlib.new(algorithm, data).hexdigest():
                    problems.append(f"{url}: {algorithm} mismatch")
                if line[1] != url.rsplit("/", 1)[1]:
                    problems.append(f"{url}: {algorithm} names another file")
            sig = self.home / "sig.asc"
            sig.write_bytes(self.get(links[("signature", "asc")]).content)
            verified = self.gpg.verify_data(str(sig), data)
            if not verified.valid or verified.pubkey_fingerprint != self.key_fingerprint:
                problems.append(f"{url}: bad signature ({verified.status})")
        return Fetched(bodies, documents, problems)

    @property
    def key_fingerprint(self) -> str:
        return str(self.metadata["public_openpgp_keys"][0]["fingerprint"])

    def close(self) -> None:
        self.http.close()
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], check=False)


@pytest.fixture
def provider(
    services: Services, settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, Services]]:
    """The server on 127.0.0.1 and, for its address, the directory built of the seeded records."""
    seed(services)
    with serving(cli_env) as base:
        svc = build_services(settings.model_copy(update={"csaf_base_url": base}))
        build(svc, SYSTEM)
        yield base, svc
        svc.db.dispose()


def test_metadata_valid(provider: tuple[str, Services], tmp_path: Path) -> None:
    base, _ = provider
    meta = httpx.get(f"{base}/.well-known/csaf/provider-metadata.json").json()
    errors = [e.message for e in provider_schema().iter_errors(meta)]
    assert errors == []
    assert meta["role"] == "csaf_trusted_provider"
    assert meta["canonical_url"] == f"{base}/.well-known/csaf/provider-metadata.json"


@needs_bsi
def test_aggregator_reads_all(provider: tuple[str, Services], tmp_path: Path, world: World) -> None:
    base, svc = provider
    agg = Aggregator(base, tmp_path / "agg")
    try:
        public = agg.fetch_folder("WHITE")
        assert public.problems == []
        assert (
            sorted(json.loads(d)["document"]["tracking"]["id"] for d in public.documents.values())
            == PUBLIC
        )
        for url, data in public.documents.items():
            assert json.loads(data)["document"]["references"][0]["url"] == url  # self (6.2.11)
        paths = []
        for i, data in enumerate(public.documents.values()):
            paths.append(tmp_path / f"doc{i}.json")
            paths[-1].write_bytes(data)
        report = bsi_validate(paths)
        assert [f for f, r in report.items() if not r["isValid"]] == []
        # The adversary's records are in no public byte: metadata, feed, index, changes, docs.
        everything = b"".join(
            [json.dumps(agg.metadata).encode(), *public.bodies.values(), *public.documents.values()]
        )
        for secret in (EMBARGOED, UNPUBLISHED, AMBER):
            assert secret.encode() not in everything
            assert secret.lower().encode() not in everything
        # The AMBER folder: anonymous 401, a lab's token 403, a coordinator's token reads it.
        with pytest.raises(httpx.HTTPStatusError) as anon:
            agg.feed("AMBER")
        assert anon.value.response.status_code == 401
        lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
        r = httpx.get(
            f"{base}/.well-known/csaf/amber/csaf-feed-tlp-amber.json", headers=lab.headers
        )
        assert r.status_code == 403
        coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.viewer)
        agg.http.headers.update(coordinator.headers)
        amber = agg.fetch_folder("AMBER")
        assert amber.problems == []
        assert [json.loads(d)["document"]["tracking"]["id"] for d in amber.documents.values()] == [
            AMBER
        ]
        assert EMBARGOED.lower().encode() not in b"".join(amber.bodies.values())

        # Tampering: one byte of a served document changes; hash and signature both fail.
        (url, data), *_ = public.documents.items()
        target = www(svc.settings) / url.split("/.well-known/csaf/", 1)[1]
        target.write_bytes(data.replace(b"flaw in", b"flow in", 1))
        tampered = agg.fetch_folder("WHITE")
        assert any("sha256 mismatch" in p for p in tampered.problems)
        assert any("sha512 mismatch" in p for p in tampered.problems)
        assert any("bad signature" in p for p in tampered.problems)
    finally:
        agg.close()


def test_incremental(services: Services, world: World) -> None:
    seed(services)
    first = build(services, SYSTEM)
    assert (first.documents, first.written) == (4, 4)  # 3 public + 1 AMBER
    again = build(services, SYSTEM)
    assert (again.written, again.removed) == (0, 0)  # idempotent
    with services.db.transaction() as s:
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.source_id == PUBLIC[0])
            .values(
                updated_at=utcnow(),
                record=_record(PUBLIC[0], "changed summary", "2026-04-01T00:00:00Z"),
            )
        )
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.source_id == EMBARGOED)
            .values(embargo_until=utcnow())
        )
        s.execute(
            update(Vulnerability).where(Vulnerability.source_id == PUBLIC[1]).values(status="new")
        )
    step = build(services, SYSTEM)
    assert (step.written, step.removed, step.documents) == (2, 1, 4)
    white = www(services.settings) / "white"
    index = (white / "index.txt").read_text()
    assert "secret-embargoed-0001" in index and "pub-0002" not in index
    assert not list(white.glob("*/pub-0002.json*"))  # the withdrawn record's files are gone
    changes = (white / "changes.csv").read_text().splitlines()
    assert changes[0].startswith('"2025/pub-0001.json","2026-04-01')  # newest first
    full = build(services, SYSTEM, full=True)
    assert (full.written, full.documents) == (4, 4)


def test_restricted_build_needs_coordinator(services: Services, world: World) -> None:
    from clearinghouse.core.errors import PermissionDenied

    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    with services.db.transaction() as s:
        from clearinghouse.accounts.tokens import authenticate

        p = authenticate(s, lab.token)
    with pytest.raises(PermissionDenied):
        build(services, p)


@pytest.mark.parametrize(
    "path",
    [
        "../state.json",
        "white/../../state.json",
        "white/..%2f..%2fstate.json",
        ".well-known",
        "gpg/passphrase.id",
        "white",
        "WHITE/index.txt",
        "white/index.txt%00",
        "amber%2f..%2fwhite/index.txt",
    ],
)
def test_hostile_paths(client: TestClient, services: Services, path: str) -> None:
    seed(services)
    build(services, SYSTEM)
    r = client.get(f"/.well-known/csaf/{path}")
    assert r.status_code in (401, 404), (path, r.status_code)
    assert r.headers["content-type"] == "application/problem+json"


def test_headers_and_security_txt(client: TestClient, services: Services) -> None:
    seed(services)
    build(services, SYSTEM)
    r = client.get("/.well-known/csaf/white/index.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert "last-modified" in r.headers
    assert (
        client.get(
            "/.well-known/csaf/white/index.txt", headers={"If-None-Match": r.headers["etag"]}
        ).status_code
        == 304
    )
    # api.http's semantics, as on the OSV API: gzip with its own strong ETag, CORS, HEAD.
    zipped = client.get("/.well-known/csaf/white/index.txt", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["access-control-allow-origin"] == "*"
    if len(r.content) >= 500:
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["etag"] == r.headers["etag"][:-1] + '-gz"'
    head = client.head("/.well-known/csaf/provider-metadata.json")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"])
    pre = client.options(
        "/.well-known/csaf/provider-metadata.json",
        headers={"Origin": "https://reader.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 204 and "access-control-allow-credentials" not in pre.headers
    txt = client.get("/.well-known/security.txt").text
    assert "CSAF: https://clearinghouse.example.org/.well-known/csaf/provider-metadata.json" in txt
    assert txt.startswith("Contact: mailto:") and "\nExpires: " in txt


def test_cli_rebuild(services: Services, world: World, cli_env: dict[str, str]) -> None:
    seed(services)
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "csaf",
            "rebuild",
            "--json",
            "--token",
            coordinator.token,
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["documents"], out["written"], len(out["fingerprint"])) == (4, 4, 40)
