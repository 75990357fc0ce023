"""Embargo and TLP never leak (issue 14, "Tests"): for an outsider, a vendor of another case,
an operator outside the sharing group and an anonymous client, every read path of the app
(every GET route, derived from the route table; the OSV queries; the dump; TAXII; the
exports; the notifications each would receive) is searched for the embargoed record's id,
alias, report and artifact ids and a unique marker string. Then the publication job runs and
everything public becomes visible."""

from __future__ import annotations

import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.coordination import publication
from clearinghouse.vulns.publication.dump import dump
from clearinghouse.vulns.publication.export import EXPORT_FORMATS, public_records
from clearinghouse.vulns.publication.provider import build
from clearinghouse.vulns.publication.provider.directory import www
from tests.coordination.test_publication import MARKER, Scene, build_scene, received
from tests.support.world import Member, World

ANONYMOUS: dict[str, str] = {}

# Every path parameter the app has, classified: about the case (filled with the embargoed
# case's ids) or about something else (filled with a placeholder: those routes must still not
# mention the case). A parameter not listed fails the test, so a new route is classified.
CASE_PARAMS = {"case_id", "vuln_id", "report_id", "artifact_id", "cid"}
# The CSAF provider directory: every folder, year and file name of the built directory.
CSAF_PARAMS = {"folder", "year", "name"}
OTHER_PARAMS = {
    "job_id",
    "org_id",
    "user_id",
    "agreement_id",
    "submission_id",
    "version",
    "run_id",
    "reference_model_id",
    "webhook_id",
    "cve_id",
    # inventory (issue 15): an operator's own assets, SBOMs and exposures; the early warning an
    # operator of the sharing group gets is tested in tests/inventory/test_early_warning.py
    "asset_id",
    "sbom_id",
    "exposure_id",
}
# Query strings tried on top of the bare path, per route.
QUERIES: dict[str, list[str]] = {
    "/api/v1/vulns": ["q={marker}", "package=tinyparse", "ecosystem=PyPI"],
    "/api/v1/vulns/{vuln_id}/export": [f"format={f}" for f in EXPORT_FORMATS],
    "/v1/vulns": ["modified_since=2000-01-01T00:00:00Z"],
    "/api/v1/duplicates": ["vuln_id={vuln_id}"],
    "/api/v1/audit/events": ["subject_id={vuln_id}"],
    "/api/v1/cases": ["state=fix_pending"],
}
POST_READS = {"/v1/query", "/v1/querybatch"}  # the OSV queries: reads over POST


def _flat(routes: list[Any]) -> list[APIRoute]:
    """The app's API routes, included routers opened (FastAPI wraps each included router)."""
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):
            out += _flat(r.original_router.routes)
        elif hasattr(r, "routes"):
            out += _flat(r.routes)
    return out


def _get_routes(client: TestClient) -> list[str]:
    app: Any = client.app
    paths = sorted({r.path for r in _flat(app.routes) if "GET" in (r.methods or set())})
    assert len(paths) > 40, paths  # the route table was read, not an empty wrapper
    return [*paths, "/api/openapi.json", "/healthz", "/readyz", "/metrics"]


def _values(scene: Scene, param: str, collections: list[str]) -> list[str]:
    return {
        "case_id": [scene.case_id],
        "vuln_id": [scene.vuln_id, "CVE-2099-31337"],
        "report_id": [scene.report_id],
        "artifact_id": [scene.artifact_id],
        "cid": collections,
        **CSAF_VALUES,
    }.get(param, ["x0"])


# Filled by `_build_csaf` from the directory as built: names the provider actually serves.
CSAF_VALUES: dict[str, list[str]] = {}


def _build_csaf(services: Services) -> None:
    """Build the CSAF provider directory as the job would, and list what it serves."""
    build(services, Principal.system())
    root = www(services.settings)
    files = [f for f in root.rglob("*") if f.is_file()]
    CSAF_VALUES.clear()
    CSAF_VALUES.update(
        folder=sorted(
            {f.relative_to(root).parts[0] for f in files if len(f.relative_to(root).parts) > 1}
        ),
        year=sorted({f.parent.name for f in files if f.parent.name.isdigit()} or {"2026"}),
        name=sorted({f.name for f in files}),
    )


def _urls(client: TestClient, scene: Scene, collections: list[str]) -> list[str]:
    urls = []
    for path in _get_routes(client):
        params = re.findall(r"{(\w+)}", path)
        unknown = set(params) - CASE_PARAMS - CSAF_PARAMS - OTHER_PARAMS
        assert not unknown, f"{path}: classify its parameters {unknown} in this test"
        variants = [path]
        for param in params:
            variants = [
                v.replace("{" + param + "}", value)
                for v in variants
                for value in _values(scene, param, collections)
            ]
        for v in variants:
            urls.append(v)
            urls.extend(
                f"{v}?{q.format(marker=MARKER, vuln_id=scene.vuln_id)}"
                for q in QUERIES.get(path, [])
            )
    return urls


def _osv_queries(client: TestClient, headers: dict[str, str]) -> list[str]:
    queries: list[dict[str, Any]] = [
        {"package": {"purl": "pkg:pypi/tinyparse"}},
        {"package": {"purl": "pkg:pypi/tinyparse@2.4.0"}},
        {"package": {"name": "tinyparse", "ecosystem": "PyPI"}, "version": "2.4.0"},
    ]
    bodies = [client.post("/v1/query", json=q, headers=headers).text for q in queries]
    bodies.append(client.post("/v1/querybatch", json={"queries": queries}, headers=headers).text)
    return bodies


def _dump(services: Services, out: Path) -> str:
    dump(public_records(services.db, Principal.system()), out)
    texts = []
    for path in sorted(out.rglob("*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                texts += [z.read(n).decode() for n in z.namelist()]
        elif path.is_file():
            texts.append(path.read_text())
    return "\n".join(texts)


def _collections(client: TestClient, who: Member) -> list[str]:
    r = client.get("/taxii2/api/collections/", headers=who.headers)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json().get("collections", [])]


def _probe(
    client: TestClient,
    scene: Scene,
    headers: dict[str, str],
    collections: list[str],
    *,
    insider: bool = False,
) -> dict[str, str]:
    """Every read path, as one caller: url → body."""
    seen = {}
    for url in _urls(client, scene, collections):
        r = client.get(url, headers=headers)
        assert r.status_code < 500, f"{url}: {r.status_code} {r.text[:300]}"
        if not insider and any(n in url.split("?")[0] for n in scene.needles):
            assert r.status_code in (401, 403, 404), f"{url}: {r.status_code} {r.text[:300]}"
        seen[url] = r.text
    for i, body in enumerate(_osv_queries(client, headers)):
        seen[f"POST osv #{i}"] = body
    return seen


def _leaks(seen: dict[str, str], needles: list[str]) -> list[str]:
    """A needle in a body, except the id the caller itself put in the URL (a 404 may name
    what was asked for; `_probe` separately requires a refusal for those)."""
    return [
        f"{url} shows {n!r}: {body[:160]}"
        for url, body in seen.items()
        for n in needles
        if n in body and n not in url
    ]


def test_embargo_never_leaks_then_publication_shows_all(
    client: TestClient, world: World, services: Services, tmp_path: Path
) -> None:
    scene = build_scene(client, world, transparency=True)
    with services.db.transaction() as s:
        assert publication.send_transparency_notices(s) == [scene.case_id]
    collections = _collections(client, scene.coordinator)
    assert collections
    _build_csaf(services)
    assert CSAF_VALUES["name"]  # provider-metadata.json at least
    strangers: dict[str, tuple[dict[str, str], str | None]] = {
        "outsider": (scene.outsider.headers, scene.outsider.org_id),
        "vendor of another case": (scene.other_vendor.headers, scene.other_vendor.org_id),
        "operator outside the group": (
            scene.outside_operator.headers,
            scene.outside_operator.org_id,
        ),
        "anonymous": (ANONYMOUS, None),
    }
    # the needles are really there for those who may see them (the search is not blind)
    insider = _probe(client, scene, scene.coordinator.headers, collections, insider=True)
    for needle in scene.needles:
        assert any(needle in body for body in insider.values()), needle
    leaks = []
    for name, (headers, org) in strangers.items():
        seen = _probe(client, scene, headers, collections)
        if org is not None:
            for i, body in enumerate(received(services, org)):
                seen[f"notification #{i}"] = body
        leaks += [f"{name}: {leak}" for leak in _leaks(seen, scene.needles)]
    seen = {"dump": _dump(services, tmp_path / "before")}
    leaks += _leaks(seen, scene.needles)
    assert leaks == []

    # the deadline passes: the job publishes, and everything public shows the record
    later = scene.embargo_until.replace(microsecond=0)
    assert publication.publish_due(services.db, later + timedelta(seconds=1)) == [scene.case_id]
    vid = scene.vuln_id
    for name, (headers, org) in strangers.items():
        r = client.get(f"/v1/vulns/{vid}", headers=headers)
        assert r.status_code == 200 and r.json()["id"] == f"x_{vid}", (name, r.text)
        assert any(vid in body for body in _osv_queries(client, headers)), name
        r = client.get("/v1/vulns?modified_since=2000-01-01T00:00:00Z", headers=headers)
        assert vid in r.text, name
        if org is not None:
            for fmt in EXPORT_FORMATS:
                r = client.get(f"/api/v1/vulns/{vid}/export?format={fmt}", headers=headers)
                assert r.status_code == 200, (name, fmt, r.text)
            r = client.get("/api/v1/vulns?q=tinyparse", headers=headers)
            assert vid in r.text, name
            assert any(vid in b for b in received(services, org, publication.PUBLISHED)), name
        taxii = [
            client.get(f"/taxii2/api/collections/{c}/objects/", headers=headers).text
            for c in collections
        ]
        assert any(vid in t or "CVE-2099-31337" in t for t in taxii), name
    assert vid in _dump(services, tmp_path / "after")
    # the CSAF provider's public folder, rebuilt, distributes it (its tracking id names it)
    _build_csaf(services)
    index = client.get("/.well-known/csaf/white/index.txt").text.split()
    documents = [client.get(f"/.well-known/csaf/white/{line}").text for line in index]
    assert any(vid in d or "CVE-2099-31337" in d for d in documents), index
    # what stays confidential after publication: the case itself and its sealed artifacts
    for name, (headers, _) in strangers.items():
        for url in (f"/api/v1/cases/{scene.case_id}", f"/api/v1/reports/{scene.report_id}"):
            assert client.get(url, headers=headers).status_code in (401, 403, 404), (name, url)
