"""SBOM intake: the example documents (CycloneDX JSON/XML 1.2-1.6, SPDX 2.2/2.3 JSON and
tag-value) are read; every invalid one (the CycloneDX specification's invalid-* test documents,
SPDX documents spdx-tools finds invalid, SPDX 3) is refused with `sbom_invalid` and stores
nothing; a new SBOM supersedes the old with its diff; operators never see each other's SBOMs or
components; hostile uploads get a 4xx, never a 5xx."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.config import Settings
from clearinghouse.inventory.models import Component, Sbom
from clearinghouse.inventory.sboms.document import SbomInvalid
from clearinghouse.inventory.sboms.intake import read
from tests.inventory.support import cyclonedx, operator_with_asset
from tests.support.world import World

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _data() -> Path:
    import os

    return Path(os.environ.get("CLEARINGHOUSE_SHARED_DATA", DATA))


def _counts(world: World) -> tuple[int, int]:
    with world.services.db.transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(Sbom)) or 0,
            s.scalar(select(func.count()).select_from(Component)) or 0,
        )


def _post(client: TestClient, headers: dict[str, str], asset: str, data: bytes, q: str = ""):
    return client.post(
        f"/api/v1/assets/{asset}/sboms{q}", headers=headers, files={"file": ("sbom", data)}
    )


def test_upload_normalises_components_and_keeps_the_unmatched_with_why(
    client: TestClient, world: World
) -> None:
    op, asset = operator_with_asset(world)
    data = cyclonedx(
        "pkg:pypi/Django_REST@3.0",
        "pkg:golang/github.com/gin-gonic/gin@v1.6.0",
        "pkg:generic/openssl@3.0.1",
        None,
    )
    r = _post(client, op.headers, asset, data)
    assert r.status_code == 201, r.text
    sbom = r.json()
    assert (sbom["format"], sbom["spec_version"], sbom["media"]) == ("cyclonedx", "1.5", "json")
    assert sbom["component_count"] == 4 and sbom["unmatched_count"] == 2
    items = client.get(f"/api/v1/sboms/{sbom['id']}/components", headers=op.headers).json()
    got = {(c["ecosystem"], c["name"], c["version"], c["unmatched_reason"]) for c in items["items"]}
    assert got == {
        ("PyPI", "django-rest", "3.0", None),
        ("Go", "github.com/gin-gonic/gin", "v1.6.0", None),
        (None, "c2", "1", "purl type 'generic' has no OSV ecosystem"),
        (None, "c3", "1", "no purl"),
    }
    unmatched = client.get(
        f"/api/v1/sboms/{sbom['id']}/components?unmatched=true", headers=op.headers
    ).json()
    assert len(unmatched["items"]) == 2


def test_a_new_sbom_supersedes_the_old_and_records_the_diff(
    client: TestClient, world: World
) -> None:
    op, asset = operator_with_asset(world)
    first = _post(client, op.headers, asset, cyclonedx("pkg:pypi/a@1", "pkg:pypi/b@1")).json()
    second = _post(client, op.headers, asset, cyclonedx("pkg:pypi/a@1", "pkg:pypi/c@2")).json()
    assert second["seq"] == first["seq"] + 1 == 2
    assert second["diff"]["added"] == ["pkg:pypi/c@2"]
    assert second["diff"]["removed"] == ["pkg:pypi/b@1"]
    listed = client.get(f"/api/v1/assets/{asset}/sboms", headers=op.headers).json()["items"]
    by_id = {s["id"]: s for s in listed}
    assert by_id[first["id"]]["superseded_at"] is not None
    assert by_id[second["id"]]["superseded_at"] is None


def test_operator_a_never_sees_operator_b_sboms_or_components(
    client: TestClient, world: World
) -> None:
    a, _ = operator_with_asset(world)
    b, asset_b = operator_with_asset(world)
    sbom_b = _post(client, b.headers, asset_b, cyclonedx("pkg:pypi/a@1")).json()
    before = _counts(world)
    r = _post(client, a.headers, asset_b, cyclonedx("pkg:pypi/x@1"))  # upload to B's asset
    assert r.status_code == 404 and _counts(world) == before
    assert client.get(f"/api/v1/assets/{asset_b}/sboms", headers=a.headers).status_code == 404
    r = client.get(f"/api/v1/sboms/{sbom_b['id']}/components", headers=a.headers)
    assert r.status_code == 404
    for kind in (OrgKind.lab, OrgKind.vendor, OrgKind.evaluator):
        other = world.member(world.org(kind), kind, Role.admin)
        assert _post(client, other.headers, asset_b, cyclonedx()).status_code == 404
        r = client.get(f"/api/v1/sboms/{sbom_b['id']}/components", headers=other.headers)
        assert r.status_code == 404
    assert _post(client, {}, asset_b, cyclonedx()).status_code == 401


@pytest.mark.parametrize(
    ("data", "query", "code"),
    [
        (b"", "", "sbom_invalid"),
        (b"\x00\xff\xfe garbage", "", "sbom_invalid"),
        (b"[1, 2]", "", "sbom_invalid"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.7"}', "", "sbom_invalid"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 3}', "", "sbom_invalid"),
        (b"<bom/>", "", "sbom_invalid"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "", "sbom_invalid"),
        (b'{"spdxVersion": "SPDX-3.0"}', "", "sbom_invalid"),
        (b"SPDXVersion: SPDX-2.3\nnonsense", "", "sbom_invalid"),
        (b"[" * 100_000, "", "sbom_invalid"),
        (cyclonedx("pkg:pypi/a@1"), "?format=spdx-json", "sbom_invalid"),
    ],
)
def test_hostile_uploads_are_a_clear_4xx_and_store_nothing(
    client: TestClient, world: World, data: bytes, query: str, code: str
) -> None:
    op, asset = operator_with_asset(world)
    before = _counts(world)
    r = _post(client, op.headers, asset, data, query)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert _counts(world) == before


def test_size_limits_are_clear(client: TestClient, world: World) -> None:
    op, asset = operator_with_asset(world)
    world.services.settings.inventory_sbom_max_components = 2
    r = _post(client, op.headers, asset, cyclonedx("pkg:pypi/a@1", "pkg:pypi/b@1", None))
    assert r.status_code == 422 and r.json()["code"] == "sbom_too_large"
    world.services.settings.inventory_sbom_max_bytes = 1024
    r = _post(client, op.headers, asset, b" " * 2000)
    assert r.status_code == 422 and r.json()["code"] == "sbom_too_large"
    assert _counts(world) == (0, 0)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda d: json.dumps(d).encode(),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda kids: (
                    st.lists(kids, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(
                            ["bomFormat", "specVersion", "components", "purl", "spdxVersion", "x"]
                        ),
                        kids,
                        max_size=4,
                    )
                ),
                max_leaves=12,
            ),
        ),
    ),
    fmt=st.sampled_from([None, "cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value"]),
)
def test_read_never_fails_other_than_with_a_clear_refusal(data: bytes, fmt: str | None) -> None:
    """The adversary sends anything at all: the reader answers SbomInvalid/SbomTooLarge or a
    document, never another exception (which the API would turn into a 500)."""
    try:
        read(data, fmt, Settings())
    except SbomInvalid:
        pass
    except Exception as exc:
        assert getattr(exc, "status", 500) < 500, repr(exc)


# --- the shared examples ------------------------------------------------------------------


def _spec_documents() -> list[dict[str, object]]:
    path = _data() / "cyclonedx-examples/spec-tests/cyclonedx-spec-test-documents.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


@pytest.mark.shared_data
def test_every_cyclonedx_spec_test_document_gets_its_verdict() -> None:
    """The specification's own test documents, 1.2-1.6, JSON and XML: every invalid-* one is
    refused with a reason; every valid-* one is read (versions outside 1.2-1.6 are refused)."""
    wrong = []
    seen = 0
    for d in _spec_documents():
        if d["format"] not in ("json", "xml") or d["expected_valid"] is None:
            continue
        seen += 1
        supported = str(d["spec_version"]) in {"1.2", "1.3", "1.4", "1.5", "1.6"}
        fmt = "cyclonedx-json" if d["format"] == "json" else "cyclonedx-xml"
        try:
            read(str(d["text"]).encode(), fmt, Settings())
            ok = True
        except SbomInvalid as exc:
            ok = False
            assert exc.detail, d["file"]
        if ok != (bool(d["expected_valid"]) and supported):
            wrong.append((d["spec_version"], d["file"]))
    assert seen > 700 and wrong == []


SPDX_INVALID = {  # spdx-tools' full validation refuses these two upstream examples
    "presentations/SBOMS-SPDX-Now-and-Future/ACME-v2.3.spdx.json",
    "software/example9/spdx2.2/appbomination.spdx.json",
}


@pytest.mark.shared_data
def test_spdx_examples_valid_ones_read_invalid_ones_refused() -> None:
    root = _data() / "spdx-examples"
    verdicts = {}
    for path in sorted([*root.rglob("*.json"), *root.rglob("*.spdx")]):
        rel = str(path.relative_to(root))
        if rel.endswith("spdx-schema.json"):
            continue
        try:
            parsed = read(path.read_bytes(), None, Settings())
            verdicts[rel] = parsed.spec_version
        except SbomInvalid as exc:
            verdicts[rel] = "refused"
            assert "SPDX" in exc.detail or "schema" in exc.detail or "valid" in exc.detail
    refused = {k for k, v in verdicts.items() if v == "refused"}
    spdx3 = {k for k in verdicts if "spdx3" in k}  # SPDX 3 JSON-LD: not supported
    assert SPDX_INVALID <= refused
    assert refused - SPDX_INVALID == spdx3
    assert verdicts["spdx-spec-2.3.1/examples/SPDXTagExample-v2.3.spdx"] == "2.3"


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "rel",
    [
        "SBOM/proton-bridge/proton-bridge-v1.8.0.bom.xml",
        "SBOM/laravel-7.12.0/bom.1.2.json",
        "SBOM/dropwizard-1.3.15/bom.xml",
    ],
)
def test_an_example_bom_is_stored_with_every_component(
    client: TestClient, world: World, rel: str
) -> None:
    op, asset = operator_with_asset(world)
    data = (_data() / "cyclonedx-examples" / rel).read_bytes()
    r = _post(client, op.headers, asset, data)
    assert r.status_code == 201, r.text
    assert r.json()["component_count"] > 40


def test_a_cyclonedx_bom_with_bomformat_after_its_components_is_recognised(world: World) -> None:
    """cyclonedx-py writes "components" first and "bomFormat" after them, far past the first
    64 KiB of a real environment's SBOM. The format is told by the parsed keys, not the bytes."""
    from clearinghouse.inventory.sboms.intake import read

    components = [
        {
            "bom-ref": f"pkg{n}",
            "description": "x" * 400,
            "name": f"pkg{n}",
            "purl": f"pkg:pypi/pkg{n}@1.0",
            "type": "library",
            "version": "1.0",
        }
        for n in range(400)
    ]
    doc = {"components": components, "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}
    data = json.dumps(doc, indent=2).encode()
    assert data.index(b'"bomFormat"') > 65536
    parsed = read(data, None, world.services.settings)
    assert len(parsed.components) == 400
