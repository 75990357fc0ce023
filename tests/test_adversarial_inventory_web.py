"""Adversarial review of the operator inventory (issue 15) and the web interface (issue 16).

Each test plays an attacker. A test that passes documents an attack that was tried and found
nothing; a finding is a test marked `xfail(strict=True, reason="finding: ...")` that fails on
the code as it is (it turns into a failure, and must be unmarked, once the finding is fixed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.inventory.models import Asset, Exposure, Sbom
from tests.inventory.exposure_support import exposure, import_record, osv_doc
from tests.inventory.support import cyclonedx, operator_with_asset
from tests.support.web import PASSWORD, csrf_of, give_password, sign_in
from tests.support.world import Member, World

# --- helpers ---------------------------------------------------------------------------------


def _count(services: Services, model: Any, *where: Any) -> int:
    with services.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _status(services: Services, exposure_id: str) -> str:
    with services.db.reading() as s:
        e = s.get(Exposure, exposure_id)
        assert e is not None
        return e.status


def _upload(
    client: TestClient, who: Member, asset_id: str, data: bytes, kind: str = "sboms"
) -> Any:
    return client.post(
        f"/api/v1/assets/{asset_id}/{kind}",
        files={"file": ("doc", data, "application/octet-stream")},
        headers=who.headers,
    )


def _openvex(vuln: str, purl: str) -> bytes:
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.org/vex/1",
            "author": "attacker",
            "timestamp": "2026-01-01T00:00:00Z",
            "version": 1,
            "statements": [
                {
                    "vulnerability": {"name": vuln},
                    "products": [{"@id": purl}],
                    "status": "not_affected",
                    "justification": "component_not_present",
                }
            ],
        }
    ).encode()


@pytest.fixture
def ab(world: World, services: Services) -> dict[str, Any]:
    """Operators A and B, an asset each with one open exposure of the same record."""
    a, asset_a = operator_with_asset(world)
    b, asset_b = operator_with_asset(world)
    with services.db.transaction() as s:
        vuln = import_record(s, osv_doc("PYSEC-2026-900", aliases=("CVE-2026-0900",)))
        ea = exposure(s, asset_a, vuln, ssvc="Act")
        eb = exposure(s, asset_b, vuln, ssvc="Act")
        sbom_a = s.scalar(select(Sbom.id).where(Sbom.asset_id == asset_a))
    return {
        "a": a,
        "b": b,
        "asset_a": asset_a,
        "asset_b": asset_b,
        "ea": ea,
        "eb": eb,
        "vuln": vuln,
        "sbom_a": sbom_a,
    }


# --- isolation: operator B and every other kind against A's inventory -----------------------


def test_another_operator_reaches_nothing_of_a_by_any_route(
    client: TestClient, services: Services, ab: dict[str, Any]
) -> None:
    b, asset_a, ea, sbom_a = ab["b"], ab["asset_a"], ab["ea"], ab["sbom_a"]
    h = b.headers
    assert client.get(f"/api/v1/assets/{asset_a}", headers=h).status_code == 404
    assert client.get(f"/api/v1/assets/{asset_a}/sboms", headers=h).status_code == 404
    assert client.get(f"/api/v1/sboms/{sbom_a}/components", headers=h).status_code == 404
    assert (
        client.get(f"/api/v1/sboms/{sbom_a}/components?unmatched=true", headers=h).status_code
        == 404
    )
    listed = client.get(f"/api/v1/assets?org_id={ab['a'].org_id}", headers=h).json()["items"]
    assert listed == []
    assert [x["id"] for x in client.get("/api/v1/assets", headers=h).json()["items"]] == [
        ab["asset_b"]
    ]
    assert _upload(client, b, asset_a, cyclonedx("pkg:pypi/x@1")).status_code == 404
    assert (
        _upload(client, b, asset_a, _openvex(ab["vuln"], "pkg:pypi/tinyparse"), "vex").status_code
        == 404
    )
    r = client.post(
        "/api/v1/assets",
        json={
            "org_id": ab["a"].org_id,
            "name": "planted",
            "sector": "energy",
            "criticality": "low",
        },
        headers=h,
    )
    assert r.status_code in (403, 404)
    assert _count(services, Asset, Asset.name == "planted") == 0
    # exposures: by id, status, bulk with one of its own first, filters by A's asset
    assert client.get(f"/api/v1/exposures/{ea}", headers=h).status_code == 404
    r = client.post(
        "/api/v1/exposures/bulk-status",
        json={
            "ids": [ab["eb"], ea],
            "status": "not_affected",
            "justification": "component_not_present",
        },
        headers=h,
    )
    assert r.status_code == 404
    assert _status(services, ea) == _status(services, ab["eb"]) == "open"
    got = client.get(f"/api/v1/exposures?asset={asset_a}", headers=h).json()["items"]
    assert got == []


def test_another_operators_forged_cursor_reveals_nothing(
    client: TestClient, ab: dict[str, Any]
) -> None:
    """A cursor taken from A's listing, replayed by B: B's scope still applies."""
    from clearinghouse.core.pagination import encode_cursor

    forged = encode_cursor(f"0.00010101000000000000.{'0' * 4}")
    r = client.get(f"/api/v1/exposures?cursor={forged}", headers=ab["b"].headers)
    assert r.status_code == 200
    assert {x["id"] for x in r.json()["items"]} <= {ab["eb"]}
    cursor = client.get("/api/v1/exposures?limit=1", headers=ab["a"].headers).json()["next_cursor"]
    if cursor:
        items = client.get(f"/api/v1/exposures?cursor={cursor}", headers=ab["b"].headers).json()
        assert ab["ea"] not in {x["id"] for x in items["items"]}


@pytest.mark.parametrize("kind", [OrgKind.vendor, OrgKind.lab, OrgKind.evaluator])
def test_other_kinds_cannot_register_read_or_change_inventory(
    client: TestClient, services: Services, world: World, ab: dict[str, Any], kind: OrgKind
) -> None:
    other = world.member(world.org(kind), kind, Role.admin)
    h = other.headers
    r = client.post(
        "/api/v1/assets",
        json={"org_id": other.org_id, "name": "own", "sector": "energy", "criticality": "low"},
        headers=h,
    )
    assert r.status_code in (403, 404, 422)
    assert client.get("/api/v1/assets", headers=h).json()["items"] == []
    assert client.get(f"/api/v1/assets/{ab['asset_a']}", headers=h).status_code == 404
    assert _upload(client, other, ab["asset_a"], cyclonedx("pkg:pypi/x@1")).status_code == 404
    vex = _openvex(ab["vuln"], "pkg:pypi/tinyparse")
    assert _upload(client, other, ab["asset_a"], vex, "vex").status_code == 404
    assert _status(services, ab["ea"]) == "open"
    m = client.get("/api/v1/inventory/metrics?sector=energy", headers=h).json()
    assert m["open_total"] == 0


def test_read_only_token_and_viewer_only_read(
    client: TestClient, services: Services, world: World, ab: dict[str, Any]
) -> None:
    a = ab["a"]
    readonly = world.member(a.org_id, OrgKind.operator, Role.member, scopes=["read"])
    viewer = world.member(a.org_id, OrgKind.operator, Role.viewer)
    for who in (readonly, viewer):
        assert client.get(f"/api/v1/exposures/{ab['ea']}", headers=who.headers).status_code == 200
        assert _upload(client, who, ab["asset_a"], cyclonedx("pkg:pypi/x@1")).status_code == 403
        vex = _openvex(ab["vuln"], "pkg:pypi/tinyparse")
        assert _upload(client, who, ab["asset_a"], vex, "vex").status_code == 403
        r = client.post(
            "/api/v1/exposures/bulk-status",
            json={"ids": [ab["ea"]], "status": "risk_accepted"},
            headers=who.headers,
        )
        assert r.status_code == 403
        r = client.post(
            "/api/v1/assets",
            json={"org_id": a.org_id, "name": "ro", "sector": "energy", "criticality": "low"},
            headers=who.headers,
        )
        assert r.status_code == 403
    assert _status(services, ab["ea"]) == "open"
    assert _count(services, Sbom, Sbom.asset_id == ab["asset_a"]) == 1


def test_a_coordinator_cannot_register_assets_for_a_non_operator(
    client: TestClient, services: Services, world: World
) -> None:
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    for kind in (OrgKind.vendor, OrgKind.lab, OrgKind.coordinator):
        org = coord.org_id if kind is OrgKind.coordinator else world.org(kind)
        r = client.post(
            "/api/v1/assets",
            json={"org_id": org, "name": "x", "sector": "energy", "criticality": "low"},
            headers=coord.headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "asset_org_not_operator", kind
    coord_viewer = world.member(coord.org_id, OrgKind.coordinator, Role.viewer)
    op = world.org(OrgKind.operator)
    r = client.post(
        "/api/v1/assets",
        json={"org_id": op, "name": "x", "sector": "energy", "criticality": "low"},
        headers=coord_viewer.headers,
    )
    assert r.status_code == 403
    assert _count(services, Asset) == 0


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()
    return lambda token, *args: runner.invoke(
        app, ["inventory", *args], env={"CLEARINGHOUSE_TOKEN": token}
    )


def test_cli_of_another_operator_and_an_epss_import_by_an_operator_are_refused(
    cli: Any, services: Services, ab: dict[str, Any], tmp_path: Any
) -> None:
    b = ab["b"]
    assert cli(b.token, "assets", "show", ab["asset_a"], "--json").exit_code != 0
    assert json.loads(cli(b.token, "exposures", "--asset", ab["asset_a"], "--json").stdout) == []
    vex = tmp_path / "vex.json"
    vex.write_bytes(_openvex(ab["vuln"], "pkg:pypi/tinyparse"))
    assert cli(b.token, "vex", "--asset", ab["asset_a"], str(vex)).exit_code != 0
    # a forged EPSS file that would push A's exposure down: operators may not import EPSS
    epss = tmp_path / "epss.csv"
    epss.write_text(
        "#model_version:v2025.03.14,score_date:2026-01-02T00:00:00+0000\n"
        "cve,epss,percentile\nCVE-2026-0900,0.00001,0.00001\n"
    )
    refused = cli(ab["a"].token, "epss-import", str(epss), "--json")
    assert refused.exit_code != 0
    from clearinghouse.inventory.epss_models import EpssScore

    assert _count(services, EpssScore) == 0
    assert _status(services, ab["ea"]) == "open"


# --- hostile SBOMs and VEX --------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>
<component type="library"><name>&lol3;</name><version>1</version></component>
</components></bom>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>
<component type="library"><name>&xxe;</name><version>1</version>
<purl>pkg:pypi/x@1</purl></component></components></bom>"""


def _nested_cdx(depth: int) -> bytes:
    """Components nested `depth` deep, written as text (json.dumps itself would recurse)."""
    head = '{"type": "library", "name": "n", "version": "1", "components": ['
    leaf = '{"type": "library", "name": "leaf", "version": "1"}'
    inner = head * depth + leaf + "]}" * depth
    return (
        '{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": ['
        + inner
        + "]}"
    ).encode()


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(XXE, id="xxe"),
        pytest.param(b"[" * 200_000 + b"]" * 200_000, id="json-nesting-200k"),
        pytest.param(_nested_cdx(3000), id="cdx-components-3000-deep"),
        pytest.param(b"\xef\xbb\xbf" + cyclonedx("pkg:pypi/x@1")[:-5], id="truncated"),
    ],
)
def test_hostile_sboms_are_refused_with_a_code_and_store_nothing(
    client: TestClient, services: Services, world: World, doc: bytes
) -> None:
    a, asset = operator_with_asset(world)
    r = _upload(client, a, asset, doc)
    assert r.status_code in (413, 422), r.text[:300]
    assert r.json()["code"] in ("sbom_invalid", "sbom_too_large")
    assert "root:" not in r.text  # nothing of /etc/passwd
    assert _count(services, Sbom, Sbom.asset_id == asset) == 0


def test_a_deeply_nested_vex_document_is_refused_not_a_500(
    client: TestClient, ab: dict[str, Any]
) -> None:
    r = _upload(client, ab["a"], ab["asset_a"], b"[" * 200_000 + b"]" * 200_000, "vex")
    assert r.status_code == 422 and r.json()["code"] == "vex_invalid", r.status_code


def test_a_vex_with_deeply_nested_cyclonedx_components_is_refused_not_a_500(
    client: TestClient, ab: dict[str, Any]
) -> None:
    r = _upload(client, ab["a"], ab["asset_a"], _nested_cdx(3000), "vex")
    assert r.status_code == 422 and r.json()["code"] == "vex_invalid", r.status_code


@pytest.mark.parametrize(
    "depth",
    [
        150,
        400,  # a finding, fixed: the pure-Python schema validator overflowed the stack (500)
    ],
)
def test_a_vex_nested_within_what_json_reads_is_refused_not_a_500(
    client: TestClient, ab: dict[str, Any], depth: int
) -> None:
    """Nesting json.loads accepts, for the schema validator and the component walk."""
    r = _upload(client, ab["a"], ab["asset_a"], _nested_cdx(depth), "vex")
    assert r.status_code in (200, 422), r.status_code


@pytest.mark.parametrize("depth", [150, 400])
def test_an_sbom_nested_within_what_json_reads_is_read_or_refused_not_a_500(
    client: TestClient, world: World, depth: int
) -> None:
    a, asset = operator_with_asset(world)
    r = _upload(client, a, asset, _nested_cdx(depth))
    assert r.status_code in (201, 413, 422), r.status_code


def test_a_vex_on_ones_own_asset_never_touches_another_operators_exposure(
    client: TestClient, services: Services, ab: dict[str, Any]
) -> None:
    """A's VEX names the record and the package B's exposure is about: only A's closes."""
    r = _upload(
        client, ab["a"], ab["asset_a"], _openvex("CVE-2026-0900", "pkg:pypi/tinyparse"), "vex"
    )
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == [ab["ea"]]
    assert _status(services, ab["eb"]) == "open"


def test_a_vex_for_a_record_an_operator_may_not_see_applies_to_nothing(
    client: TestClient, services: Services, world: World, ab: dict[str, Any]
) -> None:
    """An embargoed record's id guessed by an operator: no exposure of it exists for that
    operator, so the VEX applies to nothing, and the answer says nothing of the record."""
    with services.db.transaction() as s:
        secret = import_record(
            s, osv_doc("GHSA-hidd-en00-0000", details="R2-SECRET-DETAILS", name="tinyparse")
        )
    r = _upload(client, ab["b"], ab["asset_b"], _openvex(secret, "pkg:pypi/tinyparse"), "vex")
    assert r.status_code == 200 and r.json()["applied"] == []
    assert "R2-SECRET" not in r.text


# --- the web interface ------------------------------------------------------------------------


def test_a_planted_session_cookie_is_not_kept_through_sign_in(
    client: TestClient, services: Services, world: World
) -> None:
    """Session fixation: the attacker plants a cookie value; signing in issues a fresh one."""
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    planted = "attacker-chosen-value-" + "a" * 40
    client.cookies.set("ch_session", planted, domain="testserver.local")
    sign_in(client, services, lab)
    assert client.cookies.get("ch_session") not in (None, planted)


def test_sign_out_with_another_sessions_csrf_token_is_refused(
    client: TestClient, services: Services, world: World
) -> None:
    from clearinghouse.api.app import create_app

    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    other = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    sign_in(client, services, lab)
    with TestClient(create_app(services)) as c2:
        sign_in(c2, services, other)
        foreign = csrf_of(c2.get("/dashboard").text)
    r = client.post("/sign-out", data={"csrf_token": foreign}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    "hostile",
    ["/\t/evil.example", "/\n/evil.example", "/%2F/evil.example", "https:evil.example", "/ /x"],
)
def test_next_with_control_characters_never_leaves_the_site(
    client: TestClient, services: Services, world: World, hostile: str
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    token = csrf_of(client.get("/sign-in").text)
    r = client.post(
        "/sign-in",
        data={
            "email": email,
            "password": PASSWORD,
            "organisation": "",
            "csrf_token": token,
            "next": hostile,
        },
        follow_redirects=False,
    )
    assert r.status_code in (303, 422)
    if r.status_code == 303:
        location = "".join(ch for ch in r.headers["location"] if ch not in "\t\r\n")
        assert location.startswith("/") and not location.startswith(("//", "/\\"))


def test_private_and_error_pages_are_not_cached_nor_framable(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    sign_in(client, services, lab)
    anonymous = TestClient(client.app)
    pages = ("/dashboard", "/lab/submissions", "/lab/submissions/sub_nope", "/triage", "/sign-in")
    for path in pages:
        r = (anonymous if path == "/sign-in" else client).get(path, follow_redirects=False)
        assert "no-store" in r.headers.get("cache-control", ""), path
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), path


def test_the_throttle_is_not_bypassed_by_changing_the_emails_case(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    variants = [email.upper(), email.capitalize(), email.swapcase(), f" {email}", email.title()]
    for v in variants:
        token = csrf_of(client.get("/sign-in").text)
        client.post(
            "/sign-in",
            data={"email": v, "password": "wrong password guess", "csrf_token": token},
            follow_redirects=False,
        )
    token = csrf_of(client.get("/sign-in").text)
    r = client.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 429


def test_hostile_names_are_escaped_on_pages(
    client: TestClient, services: Services, world: World
) -> None:
    """An organisation and an e-mail carrying markup, rendered on the pages its member sees."""
    xss = '<script>alert("r2")</script><img src=x onerror=alert(1)>'
    lab_org = world.org(OrgKind.lab, name=f"lab {xss}")
    lab = world.member(lab_org, OrgKind.lab, Role.member)
    sign_in(client, services, lab)
    for path in ("/dashboard", "/lab/agreements", "/lab/submissions"):
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
    # the refusal page does not echo a hostile e-mail or organisation either
    anon = TestClient(client.app)
    token = csrf_of(anon.get("/sign-in").text)
    r = anon.post(
        "/sign-in",
        data={
            "email": f"{xss}@x.org",
            "password": "x" * 12,
            "organisation": xss,
            "csrf_token": token,
        },
    )
    assert "<script>alert" not in r.text


def test_an_operator_has_an_exposures_page(
    client: TestClient, services: Services, ab: dict[str, Any]
) -> None:
    sign_in(client, services, ab["a"])
    r = client.get("/operator/exposures", follow_redirects=False)
    assert r.status_code == 200 and ab["ea"] in r.text


def test_oversized_bulk_and_bad_paging_are_refused_with_a_code(
    client: TestClient, services: Services, ab: dict[str, Any]
) -> None:
    a = ab["a"]
    r = client.post(
        "/api/v1/exposures/bulk-status",
        json={"ids": [ab["ea"]] * 501 + ["exp_x"], "status": "risk_accepted"},
        headers=a.headers,
    )
    assert r.status_code == 422
    for bad in ("limit=100000", "sector=moon", "cursor=%00%00"):
        path = "/api/v1/inventory/metrics?" if bad.startswith("sector") else "/api/v1/exposures?"
        assert client.get(path + bad, headers=a.headers).status_code == 422, bad
    assert _status(services, ab["ea"]) == "open"
