"""The operator's pages (issue 16 over issue 15's inventory): for each role (the operator, another
operator, a coordinator, a vendor, a lab, an evaluator, anonymous) each page answers with the
API's status and shows nothing the API would not (another operator's asset names, purls and
vulnerability ids never appear); an early-warning exposure shows its TLP:AMBER badge and an
embargo banner and never the record's details; every form refuses a missing CSRF token and
changes nothing; hostile filters are 4xx pages that echo nothing; the forms do what the API
does (create, upload, bulk all or nothing, status change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.ids import new_id
from clearinghouse.inventory import assets
from clearinghouse.inventory.models import Asset, Exposure, ExposureEvent, Sbom
from clearinghouse.inventory.sboms.intake import upload
from clearinghouse.inventory.schemas import AssetCreate
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.support import cyclonedx, drain
from tests.inventory.test_vex_intake import _openvex
from tests.support.world import Member, World
from tests.web.pages_kit import Browser

A_NAME, A_PURL, A_VULN = "A-SECRET-ASSET-pumphouse", "pkg:pypi/asecretlib@1.0", "PYSEC-ASECRET-1"
B_NAME, B_PURL, B_VULN = "B-SECRET-ASSET-reservoir", "pkg:pypi/bsecretlib@1.0", "PYSEC-BSECRET-1"
EW_DETAILS = "EW-SECRET-DETAILS-4d2b: overflow in the header reader, PoC attached"
EW_VULN = "PYSEC-EWSECRET-1"


@dataclass
class Scene:
    a: Member
    b: Member
    coordinator: Member
    vendor: Member
    lab: Member
    evaluator: Member
    a_asset: str
    b_asset: str
    a_exposure: str
    b_exposure: str
    ew_exposure: str


def _asset(world: World, org: str, name: str, purl: str) -> str:
    svc = world.services
    with svc.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": name, "sector": "water", "criticality": "critical"}
        )
        asset_id = assets.create_asset(s, Principal.system(), body).id
        upload(s, Principal.system(), svc.settings, asset_id, cyclonedx(purl, None))
    return asset_id


def _exposure_of(world: World, asset_id: str) -> str:
    with world.services.db.reading() as s:
        found = s.scalar(select(Exposure.id).where(Exposure.asset_id == asset_id))
    assert found is not None
    return found


def _early_warning(s: Session, beside: str, vuln_id: str) -> str:
    """An early-warning exposure of an embargoed record on the asset of `beside` (its
    component), with the values inventory.early_warning writes."""
    base = s.get(Exposure, beside)
    assert base is not None
    now = utcnow()
    e = Exposure(
        id=new_id("exp"),
        asset_id=base.asset_id,
        org_id=base.org_id,
        component_id=base.component_id,
        vuln_id=vuln_id,
        purl="pkg:pypi/ewlib@2.9",
        version="2.9",
        severity="critical",
        kev=False,
        fixed_in="3.0",
        status="open",
        detail="early_warning",
        opened_at=now,
        updated_at=now,
    )
    s.add(e)
    s.flush()
    return e.id


@pytest.fixture
def scene(world: World) -> Scene:
    def m(kind: OrgKind) -> Member:
        return world.member(world.org(kind), kind, Role.member)

    a_org, b_org = world.org(OrgKind.operator), world.org(OrgKind.operator)
    a = world.member(a_org, OrgKind.operator, Role.member)
    b = world.member(b_org, OrgKind.operator, Role.member)
    with world.services.db.transaction() as s:
        import_record(s, osv_doc(A_VULN, "asecretlib", "2.0"))
        import_record(s, osv_doc(B_VULN, "bsecretlib", "2.0"))
    a_asset = _asset(world, a_org, A_NAME, A_PURL)
    b_asset = _asset(world, b_org, B_NAME, B_PURL)
    drain(world.services)
    a_exposure, b_exposure = _exposure_of(world, a_asset), _exposure_of(world, b_asset)
    with world.services.db.transaction() as s:  # an early warning, as inventory.early_warning
        ew_vuln = import_record(s, osv_doc(EW_VULN, "ewlib", "3.0", details=EW_DETAILS))
        ew = _early_warning(s, a_exposure, ew_vuln)
    return Scene(
        a,
        b,
        m(OrgKind.coordinator),
        m(OrgKind.vendor),
        m(OrgKind.lab),
        m(OrgKind.evaluator),
        a_asset,
        b_asset,
        a_exposure,
        b_exposure,
        ew,
    )


def _pages(sc: Scene) -> list[tuple[str, str]]:
    """(page, the API route it mirrors)."""
    return [
        ("/operator/assets", "/api/v1/assets"),
        (f"/operator/assets/{sc.a_asset}", f"/api/v1/assets/{sc.a_asset}"),
        ("/operator/exposures", "/api/v1/exposures"),
        (f"/operator/exposures/{sc.a_exposure}", f"/api/v1/exposures/{sc.a_exposure}"),
        (f"/operator/exposures/{sc.ew_exposure}", f"/api/v1/exposures/{sc.ew_exposure}"),
        ("/operator/metrics", "/api/v1/inventory/metrics"),
    ]


A_SECRETS = (A_NAME, A_PURL, A_VULN)
B_SECRETS = (B_NAME, B_PURL, B_VULN)


def test_each_page_shows_each_role_what_the_api_gives_it(
    client: TestClient, services: Services, scene: Scene
) -> None:
    roles = {
        "a": (scene.a, True),
        "b": (scene.b, False),
        "coordinator": (scene.coordinator, True),
        "vendor": (scene.vendor, False),
        "lab": (scene.lab, False),
        "evaluator": (scene.evaluator, False),
    }
    with services.db.reading() as s:
        internal = {
            e.asset_id: e.vuln_id
            for e in s.scalars(select(Exposure).where(Exposure.detail == "full"))
        }
    a_secrets = (*A_SECRETS, internal[scene.a_asset])  # ids asked for are echoed, as the API
    b_secrets = (*B_SECRETS, internal[scene.b_asset])
    for label, (who, sees_a) in roles.items():
        browser = Browser(client, services, who)
        for page, api in _pages(scene):
            got = browser.get(page)
            expected = client.get(api, headers=who.headers)
            assert got.status_code == expected.status_code, (label, page, got.text[:300])
            body = expected.text if expected.status_code == 200 else ""
            for secret in a_secrets:
                # a page shows A's inventory exactly when the API gives that role some of it
                if not sees_a:
                    assert secret not in got.text, (label, page, secret)
                    assert secret not in body, (label, api, secret)
            if who is not scene.coordinator and who is not scene.b:
                for secret in b_secrets:
                    assert secret not in got.text, (label, page, secret)
            assert EW_DETAILS not in got.text and "EW-SECRET-DETAILS" not in got.text
    # what A's own member sees: its asset, purl and vulnerability on the list pages
    a = Browser(client, services, scene.a)
    assert A_NAME in a.get("/operator/assets").text
    listing = a.get("/operator/exposures").text
    assert A_PURL in listing and A_VULN in listing and B_VULN not in listing
    # the coordinator sees both operators'
    coord = Browser(client, services, scene.coordinator).get("/operator/assets").text
    assert A_NAME in coord and B_NAME in coord
    # anonymous visitors are sent to sign-in on every page
    anonymous = Browser(client, services, None)
    for page, _ in _pages(scene):
        r = anonymous.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=")


def test_the_asset_page_shows_history_diff_components_and_unmatched(
    client: TestClient, services: Services, scene: Scene
) -> None:
    a = Browser(client, services, scene.a)
    page = a.get(f"/operator/assets/{scene.a_asset}").text
    assert "no purl" in page  # the component without a purl, with its reason
    assert "Upload an SBOM" in page and "Upload a VEX document" in page
    r = a.http.post(
        f"/operator/assets/{scene.a_asset}/sboms",
        data={"csrf_token": a.csrf},
        files={"file": ("bom.json", cyclonedx("pkg:pypi/asecretlib@2.0"), "application/json")},
    )
    assert r.status_code == 303 and "notice=sbom_uploaded" in r.headers["location"]
    drain(services)
    page = a.get(f"/operator/assets/{scene.a_asset}").text
    assert "#2" in page and "current" in page and "pkg:pypi/asecretlib@2.0" in page
    # the diff: the fixed version closed the exposure (and the early warning's component went)
    assert "exposures opened 0, remediated 2" in page and "Components added and removed" in page
    detail = a.get(f"/operator/exposures/{scene.a_exposure}").text
    assert "remediated" in detail and "sbom_id" in detail  # the automatic close's evidence
    # an invalid document is the API's 422 with its reason, and stores nothing
    with services.db.reading() as s:
        before = s.scalar(select(func.count()).select_from(Sbom))
    r = a.http.post(
        f"/operator/assets/{scene.a_asset}/sboms",
        data={"csrf_token": a.csrf},
        files={"file": ("bom.json", b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "x": 1}')},
    )
    assert r.status_code == 422
    with services.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Sbom)) == before
    # another operator cannot upload to A's asset: 404, as the API
    b = Browser(client, services, scene.b)
    r = b.http.post(
        f"/operator/assets/{scene.a_asset}/sboms",
        data={"csrf_token": b.csrf},
        files={"file": ("bom.json", cyclonedx("pkg:pypi/x@1"), "application/json")},
    )
    assert r.status_code == 404 and A_NAME not in r.text


def test_an_early_warning_shows_amber_and_the_banner_and_only_the_limited_detail(
    client: TestClient, services: Services, scene: Scene
) -> None:
    a = Browser(client, services, scene.a)
    for page in ("/operator/exposures", f"/operator/exposures/{scene.ew_exposure}"):
        text = a.get(page).text
        assert "TLP:AMBER" in text, page
        assert EW_DETAILS not in text and "PoC attached" not in text, page
    detail = a.get(f"/operator/exposures/{scene.ew_exposure}").text
    assert 'class="embargo"' in detail and "pkg:pypi/ewlib@2.9" in detail
    assert 'class="embargo"' in a.get("/operator/exposures").text
    api = client.get(f"/api/v1/exposures/{scene.ew_exposure}", headers=scene.a.headers).json()
    assert api["detail"] == "early_warning" and api["tlp"] == "AMBER"


def test_a_coordinator_registers_an_asset_for_an_operator_and_a_vendor_may_not(
    client: TestClient, services: Services, scene: Scene
) -> None:
    coord = Browser(client, services, scene.coordinator)
    page = coord.get("/operator/assets").text
    assert "Register an asset" in page and f'value="{scene.a.org_id}"' in page
    r = coord.post(
        "/operator/assets",
        {"org_id": scene.a.org_id, "name": "on behalf", "sector": "energy", "criticality": "low"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/operator/assets/ast_")
    listed = client.get("/api/v1/assets", headers=scene.a.headers).json()["items"]
    assert "on behalf" in [x["name"] for x in listed]
    vendor = Browser(client, services, scene.vendor)
    assert "Register an asset" not in vendor.get("/operator/assets").text
    r = vendor.post(
        "/operator/assets",
        {"org_id": scene.a.org_id, "name": "hijack", "sector": "energy", "criticality": "low"},
    )
    assert r.status_code in (403, 404)
    # an operator cannot register one for another operator (the API's answer)
    r = Browser(client, services, scene.b).post(
        "/operator/assets",
        {"org_id": scene.a.org_id, "name": "hijack", "sector": "energy", "criticality": "low"},
    )
    assert r.status_code in (403, 404)
    with services.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Asset).where(Asset.name == "hijack")) == 0
    # an invalid form is a 422 that names the field, never the value
    r = Browser(client, services, scene.a).post(
        "/operator/assets",
        {"org_id": scene.a.org_id, "name": "x", "sector": "<b>moon</b>", "criticality": "low"},
    )
    assert r.status_code == 422 and "sector" in r.text and "<b>moon</b>" not in r.text


def _status(services: Services, exposure_id: str) -> str:
    with services.db.reading() as s:
        e = s.get(Exposure, exposure_id)
        assert e is not None
        return e.status


def test_bulk_change_is_all_or_nothing_and_the_status_form_records_the_event(
    client: TestClient, services: Services, world: World, scene: Scene
) -> None:
    a = Browser(client, services, scene.a)
    # B's exposure among A's: the API's 404, naming nothing of B's, and nothing changed
    r = a.post(
        "/operator/exposures/bulk-status",
        {"ids": [scene.a_exposure, scene.b_exposure], "status": "in_progress"},
    )
    assert r.status_code == 404 and B_VULN not in r.text
    assert _status(services, scene.a_exposure) == "open"
    r = a.post(
        "/operator/exposures/bulk-status",
        {"ids": [scene.a_exposure, scene.ew_exposure], "status": "in_progress", "note": "on it"},
    )
    assert r.status_code == 303
    assert (
        _status(services, scene.a_exposure)
        == _status(services, scene.ew_exposure)
        == ("in_progress")
    )
    # not_affected without its justification: the API's 422
    r = a.post(f"/operator/exposures/{scene.a_exposure}/status", {"status": "not_affected"})
    assert r.status_code == 422
    r = a.post(
        f"/operator/exposures/{scene.a_exposure}/status",
        {"status": "remediated", "note": "patched the pumps"},
    )
    assert r.status_code == 303
    page = a.get(f"/operator/exposures/{scene.a_exposure}").text
    assert "patched the pumps" in page and "is final" in page
    # an illegal move is the API's 409
    r = a.post(f"/operator/exposures/{scene.a_exposure}/status", {"status": "open"})
    assert r.status_code == 409
    # A's viewer reads but may not change: no form, and the API's 403
    viewer = Browser(client, services, world.member(scene.a.org_id, OrgKind.operator, Role.viewer))
    listing = viewer.get("/operator/exposures").text
    assert (
        A_PURL in listing
        and 'name="ids"' not in listing
        and "Change the status" not in (viewer.get(f"/operator/exposures/{scene.ew_exposure}").text)
    )
    r = viewer.post(
        "/operator/exposures/bulk-status", {"ids": scene.ew_exposure, "status": "mitigated"}
    )
    assert r.status_code == 403
    # B may not change A's exposure: 404
    r = Browser(client, services, scene.b).post(
        f"/operator/exposures/{scene.ew_exposure}/status", {"status": "mitigated"}
    )
    assert r.status_code == 404 and _status(services, scene.ew_exposure) == "in_progress"


def test_every_form_refuses_a_missing_csrf_token_and_changes_nothing(
    client: TestClient, services: Services, scene: Scene
) -> None:
    a = Browser(client, services, scene.a)

    def counts() -> tuple[int, ...]:
        with services.db.reading() as s:
            return tuple(
                int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Asset, Sbom, ExposureEvent)
            )

    before = counts()
    forms = [
        ("/operator/assets", {"org_id": scene.a.org_id, "name": "n", "sector": "energy"}),
        ("/operator/exposures/bulk-status", {"ids": scene.a_exposure, "status": "mitigated"}),
        (f"/operator/exposures/{scene.a_exposure}/status", {"status": "mitigated"}),
    ]
    for path, data in forms:
        assert a.post_without_token(path, data).status_code == 403, path
        forged = a.http.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403, path
    for path in (
        f"/operator/assets/{scene.a_asset}/sboms",
        f"/operator/assets/{scene.a_asset}/vex",
    ):
        r = a.http.post(path, files={"file": ("x.json", cyclonedx("pkg:pypi/asecretlib@2.0"))})
        assert r.status_code == 403, path
    # another session's token is not this one's
    b = Browser(client, services, scene.b)
    r = a.http.post(
        f"/operator/exposures/{scene.a_exposure}/status",
        data={"status": "mitigated", "csrf_token": b.csrf},
    )
    assert r.status_code == 403
    assert counts() == before and _status(services, scene.a_exposure) == "open"


@pytest.mark.parametrize(
    "path",
    [
        "/operator/exposures?status=<script>alert(1)</script>",
        "/operator/exposures?severity=catastrophic",
        "/operator/exposures?kev=maybe",
        "/operator/exposures?ssvc=Act%27--",
        "/operator/exposures?cursor=%00%ff<script>",
        "/operator/exposures?cursor=" + "A" * 300,
        "/operator/exposures?asset=" + "x" * 65,
        "/operator/assets?cursor=not-a-cursor<script>",
        "/operator/assets/<script>",
        "/operator/assets/ast_unknown?cursor=%%%",
        "/operator/exposures/exp_%3Cscript%3E",
        "/operator/metrics?sector=<script>",
    ],
)
def test_hostile_input_is_a_4xx_page_that_echoes_nothing(
    client: TestClient, services: Services, scene: Scene, path: str
) -> None:
    r = Browser(client, services, scene.a).get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code)
    assert "<script>" not in r.text and r.headers["content-type"].startswith("text/html")


def test_the_operator_dashboard_lists_act_and_attend_and_counts_overdue(
    client: TestClient, services: Services, scene: Scene
) -> None:
    with services.db.transaction() as s:
        for eid, outcome in ((scene.a_exposure, "Act"), (scene.ew_exposure, "Track")):
            e = s.get(Exposure, eid)
            assert e is not None
            e.ssvc, e.ssvc_rank = outcome, {"Act": 0, "Track": 3}[outcome]
            e.due_at = utcnow() - timedelta(days=2)
    page = Browser(client, services, scene.a).get("/dashboard").text
    assert "Exposures to act on" in page and A_VULN in page and "2 overdue" in page
    other = Browser(client, services, scene.b).get("/dashboard").text
    assert A_VULN not in other and "2 overdue" not in other
    metrics = Browser(client, services, scene.a).get("/operator/metrics").text
    assert "<svg" in metrics and "<desc" in metrics and "Open exposures by severity" in metrics
    assert f'href="/operator/exposures/{scene.a_exposure}"' in metrics  # an overdue item
    theirs = Browser(client, services, scene.b).get("/operator/metrics").text
    assert scene.a_exposure not in theirs and "Nothing is overdue" in theirs


def test_the_vex_form_closes_what_it_names_and_refuses_what_is_invalid(
    client: TestClient, services: Services, scene: Scene
) -> None:
    doc = _openvex(A_VULN, A_PURL, justification="vulnerable_code_not_in_execute_path")
    b = Browser(client, services, scene.b)  # another operator: the API's 404, nothing changed
    r = b.http.post(
        f"/operator/assets/{scene.a_asset}/vex",
        data={"csrf_token": b.csrf},
        files={"file": ("vex.json", doc, "application/json")},
    )
    assert r.status_code == 404 and A_NAME not in r.text
    assert _status(services, scene.a_exposure) == "open"
    a = Browser(client, services, scene.a)
    r = a.http.post(
        f"/operator/assets/{scene.a_asset}/vex",
        data={"csrf_token": a.csrf},
        files={"file": ("vex.json", doc, "application/json")},
    )
    assert r.status_code == 200 and "openvex" in r.text and scene.a_exposure in r.text
    assert _status(services, scene.a_exposure) == "not_affected"
    r = a.http.post(
        f"/operator/assets/{scene.a_asset}/vex",
        data={"csrf_token": a.csrf},
        files={"file": ("vex.json", b"<not json>", "application/json")},
    )
    assert r.status_code == 422 and "<not json>" not in r.text
    # no file chosen: a clear 422
    r = a.post(f"/operator/assets/{scene.a_asset}/vex")
    assert r.status_code == 422


def test_hostile_form_values_are_a_422_that_echoes_nothing_and_changes_nothing(
    client: TestClient, services: Services, scene: Scene
) -> None:
    a = Browser(client, services, scene.a)
    hostile = "<script>alert(1)</script>"
    posts = [
        ("/operator/exposures/bulk-status", {"ids": hostile, "status": "mitigated"}),
        ("/operator/exposures/bulk-status", {"ids": scene.a_exposure, "status": hostile}),
        ("/operator/exposures/bulk-status", {"ids": ["x"] * 501, "status": "mitigated"}),
        ("/operator/exposures/bulk-status", {"status": "mitigated"}),  # nothing selected
        (
            f"/operator/exposures/{scene.a_exposure}/status",
            {"status": "not_affected", "justification": hostile},
        ),
        (f"/operator/exposures/{scene.a_exposure}/status", {"status": "open", "note": "x" * 2001}),
        ("/operator/assets", {"org_id": hostile, "name": "n", "sector": "energy"}),
    ]
    for path, data in posts:
        r = a.post(path, data)
        assert r.status_code == 422, (path, r.status_code)
        assert "<script>" not in r.text and r.headers["content-type"].startswith("text/html")
    r = a.http.post(
        f"/operator/assets/{scene.a_asset}/sboms",
        data={"csrf_token": a.csrf, "format": hostile},
        files={"file": ("bom.json", cyclonedx("pkg:pypi/x@1"), "application/json")},
    )
    assert r.status_code == 422 and "<script>" not in r.text
    r = a.http.post(f"/operator/assets/{scene.a_asset}/sboms", data={"csrf_token": a.csrf})
    assert r.status_code == 422  # no file chosen
    assert _status(services, scene.a_exposure) == "open"
    with services.db.reading() as s:
        assert (
            s.scalar(select(func.count()).select_from(Sbom).where(Sbom.asset_id == scene.a_asset))
            == 1
        )
