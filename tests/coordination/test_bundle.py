"""The disclosure bundle (issue 14, part 7), over HTTP and the CLI against the real database:
the OSV record, CSAF, the CVE 5 draft, the patch, the PoC only for the recipients the policy
allows (the others get a bundle without it, and the manifest says so), a SHA-256 manifest that
verifies; a tampered, added or removed file fails verification, a hostile archive is refused."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.coordination import bundle
from clearinghouse.vulns.models import Vulnerability
from tests.coordination.fix_kit import Cast, post
from tests.support.vulns import submit
from tests.support.world import Member, World

POC = b"POC-BYTES-\x00\x01-do-not-leak"
PATCH = b"--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-int x;\n+int y;\n"


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


def _post(client: TestClient, who: Member, path: str, body: dict[str, Any]) -> Any:
    r = post(client, who, path, body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def open_case(client: TestClient, cast: Cast) -> tuple[str, str]:
    vuln = submit(client, cast.reporter)["vuln_id"]
    cid = _post(
        client,
        cast.coordinator,
        "/api/v1/cases",
        {"vuln_ids": [vuln], "title": "bundle case", "tlp": "AMBER"},
    )["id"]
    for org, role in ((cast.vendor.org_id, "vendor"), (cast.operator.org_id, "operator_group")):
        _post(
            client,
            cast.coordinator,
            f"/api/v1/cases/{cid}/participants",
            {"org_id": org, "role": role},
        )
    for who, name, kind, data in (
        (cast.reporter, "poc.bin", "poc", POC),
        (cast.vendor, "fix.patch", "patch", PATCH),
    ):
        _post(
            client,
            who,
            f"/api/v1/cases/{cid}/artifacts",
            {"filename": name, "kind": kind, "content_base64": base64.b64encode(data).decode()},
        )
    return cid, str(vuln)


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            i.name.split("/", 1)[1]: tar.extractfile(i).read()  # type: ignore[union-attr]
            for i in tar
            if i.isreg()
        }


def repack(files: dict[str, bytes], top: str = "case") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def get_bundle(client: TestClient, who: Member, cid: str) -> Any:
    return client.get(f"/api/v1/cases/{cid}/bundle", headers=who.headers)


def give_cve(services: Services, vuln_id: str, cve: str) -> None:
    with services.db.transaction() as s:
        vuln = s.get(Vulnerability, vuln_id)
        assert vuln is not None
        vuln.record = {**vuln.record, "aliases": [*vuln.record.get("aliases", []), cve]}


def test_the_bundle_holds_the_exports_the_patch_and_a_manifest_that_verifies(
    client: TestClient, cast: Cast, services: Services
) -> None:
    cid, vuln = open_case(client, cast)
    # no CVE id yet: no CVE 5 draft, and the manifest says why
    manifest = json.loads(
        members(get_bundle(client, cast.coordinator, cid).content)["manifest.json"]
    )
    assert manifest["omitted"] == [
        {"path": f"records/{vuln}.cve5.json", "code": "cve_id_missing", "detail": ANY}
    ]
    give_cve(services, vuln, "CVE-2026-4343")
    r = get_bundle(client, cast.coordinator, cid)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/gzip"
    files = members(r.content)
    manifest = json.loads(files["manifest.json"])
    assert manifest["case_id"] == cid and manifest["vuln_ids"] == [vuln]
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256(files[path]).hexdigest() == digest
    osv = json.loads(files[f"records/{vuln}.osv.json"])
    assert osv["id"] == f"x_{vuln}"  # the OSV form of our id (docs/osv.md)
    csaf = json.loads(files[f"records/{vuln}.csaf.json"])
    assert csaf["document"]["csaf_version"] == "2.0"
    assert csaf["document"]["distribution"]["tlp"]["label"] in ("AMBER", "RED", "GREEN", "WHITE")
    cve5 = json.loads(files[f"records/{vuln}.cve5.json"])
    assert "CVE-2026-4343" in json.dumps(cve5) and manifest["omitted"] == []
    assert [p for p in files if p.startswith("patches/")] and PATCH in files.values()
    assert manifest["poc"]["included"] is True and POC in files.values()
    check = bundle.verify(r.content)
    assert check.ok and check.case_id == cid and check.files_checked == len(listed)


def test_the_poc_is_sealed_to_authorised_recipients_and_the_manifest_says_so(
    client: TestClient, cast: Cast
) -> None:
    cid, _ = open_case(client, cast)
    with_poc = (cast.coordinator, cast.vendor_admin, cast.reporter_admin)
    without = (cast.vendor, cast.reporter, cast.coordinator_viewer)
    for who in with_poc:
        r = get_bundle(client, who, cid)
        assert r.status_code == 200 and POC in members(r.content).values()
    for who in without:  # adversary: a plain member of the vendor, a coordinator viewer
        r = get_bundle(client, who, cid)
        assert r.status_code == 200, r.text
        raw = gzip.decompress(r.content)
        assert POC not in raw
        manifest = json.loads(members(r.content)["manifest.json"])
        assert manifest["poc"]["included"] is False and manifest["poc"]["withheld"] == 1
        assert not [f for f in manifest["files"] if f["path"].startswith("poc/")]
        assert bundle.verify(r.content).ok
    # the sharing group never gets a bundle; outsiders do not learn the case exists
    assert get_bundle(client, cast.operator, cid).status_code == 403
    assert get_bundle(client, cast.other_vendor, cid).status_code == 404
    assert client.get(f"/api/v1/cases/{cid}/bundle").status_code == 401


def test_a_tampered_added_or_removed_file_fails_verification(
    client: TestClient, cast: Cast
) -> None:
    cid, vuln = open_case(client, cast)
    files = members(get_bundle(client, cast.coordinator, cid).content)
    assert bundle.verify(repack(files)).ok
    osv = f"records/{vuln}.osv.json"
    tampered = {**files, osv: files[osv].replace(b'"id"', b'"id" ', 1)}
    check = bundle.verify(repack(tampered))
    assert not check.ok
    assert [(p.path, p.code) for p in check.problems] == [(osv, "size_mismatch")]
    same_size = {**files, osv: files[osv][:-1] + b"X"}
    check = bundle.verify(repack(same_size))
    assert [(p.path, p.code) for p in check.problems] == [(osv, "digest_mismatch")]
    added = {**files, "poc/extra.bin": b"planted"}
    assert [p.code for p in bundle.verify(repack(added)).problems] == ["unlisted_file"]
    removed = {k: v for k, v in files.items() if k != osv}
    assert [p.code for p in bundle.verify(repack(removed)).problems] == ["missing_file"]


def test_a_hostile_archive_is_refused_with_a_stable_code() -> None:
    with pytest.raises(bundle.BundleInvalid) as exc:
        bundle.verify(b"not a tar.gz")
    assert exc.value.code == "bundle_invalid"
    with pytest.raises(bundle.BundleInvalid):
        bundle.verify(repack({"x.json": b"{}"}))  # no manifest
    with pytest.raises(bundle.BundleInvalid):
        bundle.verify(repack({"manifest.json": b"[1, 2]"}))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        link = tarfile.TarInfo("case/manifest.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(bundle.BundleInvalid):
        bundle.verify(out.getvalue())
    with pytest.raises(bundle.BundleInvalid):
        bundle.verify(repack({"../escape": b"x"}, top=".."))


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()

    def run(token: str | None, *args: str) -> Any:
        env = {"CLEARINGHOUSE_TOKEN": token} if token else {}
        r = runner.invoke(app, ["cases", *args, "--json"], env=env)
        return r.exit_code, r.stdout, r.stderr

    yield run


def test_cli_writes_and_verifies_a_bundle(
    cli: Any, client: TestClient, cast: Cast, tmp_path: Path
) -> None:
    cid, vuln = open_case(client, cast)
    out = tmp_path / "b.tar.gz"
    code, stdout, _ = cli(cast.vendor.token, "bundle", cid, "--output", str(out))
    assert code == 0 and json.loads(stdout)["poc_included"] is False
    code, stdout, _ = cli(None, "bundle-verify", str(out))
    assert code == 0 and json.loads(stdout)["ok"] is True
    files = members(out.read_bytes())
    osv = f"records/{vuln}.osv.json"
    out.write_bytes(repack({**files, osv: files[osv][:-1] + b"X"}))
    code, stdout, _ = cli(None, "bundle-verify", str(out))
    assert code == 1 and json.loads(stdout)["problems"] == [
        {"path": osv, "code": "digest_mismatch"}
    ]
    out.write_bytes(b"garbage")
    code, _, stderr = cli(None, "bundle-verify", str(out))
    assert code == 1 and "bundle_invalid" in stderr
    code, _, _ = cli(cast.other_vendor.token, "bundle", cid, "--output", str(out))
    assert code == 1
