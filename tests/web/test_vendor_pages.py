"""The vendor's pages (issue 16): its cases only, its status form, and its fix form with the
verification result (the real sandbox runs the case's recipe against an uploaded patch). Another
vendor, an operator and a lab are refused each, with the API's status."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearinghouse.container import Services
from tests.coordination.fix_kit import Cast
from tests.coordination.test_fixes import EXACT_POC_BLOCK, REAL_FIX, drain, open_case
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.world import World
from tests.web.pages_kit import VENDOR_STATEMENT, Browser, Scene, build_case


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


@pytest.fixture
def scene(client: TestClient, services: Services, cast: Cast) -> Scene:
    return build_case(client, services, cast)


def test_a_vendor_sees_its_cases_only(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    mine = Browser(client, services, cast.vendor).get("/vendor/cases")
    assert mine.status_code == 200 and f'href="/cases/{scene.case_id}"' in mine.text
    assert "data-countdown=" in mine.text  # the case is notified: its deadline runs
    other = Browser(client, services, cast.other_vendor).get("/vendor/cases")
    assert other.status_code == 200
    assert scene.case_id not in other.text and "tinyparse heap overflow" not in other.text
    assert "takes part in no case" in other.text  # the empty state says what happens next
    assert Browser(client, services, None).get("/vendor/cases").status_code == 303


def test_a_vendor_posts_its_status_and_others_may_not(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    vendor = Browser(client, services, cast.vendor)
    page = vendor.get(f"/cases/{scene.case_id}")
    assert "Your status" in page.text and "Post a fix" in page.text
    assert "Publish now" not in page.text and "Add a participant" not in page.text
    r = vendor.post(
        f"/cases/{scene.case_id}/vendor-status",
        {
            "status": "not_affected",
            "justification": "vulnerable_code_not_present",
            "statement": "the reader is not built in our product",
        },
    )
    assert r.status_code == 303, r.text
    case = client.get(f"/api/v1/cases/{scene.case_id}", headers=cast.coordinator.headers).json()
    (status,) = case["vendor_statuses"]
    assert status["status"] == "not_affected"
    assert status["justification"] == "vulnerable_code_not_present"
    # the API's rules hold on the form: fixed without a verified fix is the API's 409
    r = vendor.post(
        f"/cases/{scene.case_id}/vendor-status", {"status": "fixed", "fixed_versions": "1.1"}
    )
    assert r.status_code == 409 and "fix" in r.text
    # others: a vendor of another case cannot see it (404); the sharing group may not (403)
    body = {"status": "affected", "statement": "hijack"}
    other = Browser(client, services, cast.other_vendor)
    assert other.post(f"/cases/{scene.case_id}/vendor-status", body).status_code == 404
    operator = Browser(client, services, cast.operator)
    assert operator.post(f"/cases/{scene.case_id}/vendor-status", body).status_code == 403
    coordinator = Browser(client, services, cast.coordinator)
    assert coordinator.post(f"/cases/{scene.case_id}/vendor-status", body).status_code == 403
    assert "hijack" not in str(
        client.get(f"/api/v1/cases/{scene.case_id}", headers=cast.coordinator.headers).json()
    )
    # and no token, no change
    r = vendor.post_without_token(f"/cases/{scene.case_id}/vendor-status", body)
    assert r.status_code == 403


def test_a_commit_fix_is_recorded_as_unverifiable_and_shown(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    vendor = Browser(client, services, cast.vendor)
    r = vendor.post(f"/cases/{scene.case_id}/fixes", {"kind": "commit", "commit": "a1b2c3d4e5"})
    assert r.status_code == 303, r.text
    page = vendor.get(f"/cases/{scene.case_id}")
    assert "fix_unverifiable" in page.text and "a1b2c3d4e5" in page.text
    # a patch fix without a file is refused with its code, and a malformed commit too
    assert vendor.post(f"/cases/{scene.case_id}/fixes", {"kind": "patch"}).status_code == 422
    bad = vendor.post(f"/cases/{scene.case_id}/fixes", {"kind": "commit", "commit": "<script>"})
    assert bad.status_code == 422 and "<script>" not in bad.text
    # another vendor cannot post a fix to a case it is not in
    other = Browser(client, services, cast.other_vendor)
    assert (
        other.post(
            f"/cases/{scene.case_id}/fixes", {"kind": "commit", "commit": "a1b2c3d4e5"}
        ).status_code
        == 404
    )


def test_the_vendor_dashboard_lists_cases_waiting_for_its_status(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    vendor = Browser(client, services, cast.vendor)
    vendor.post(f"/cases/{scene.case_id}/vendor-status", {"status": "under_investigation"})
    page = vendor.get("/dashboard")
    assert "Cases waiting for your status" in page.text and scene.case_id in page.text
    assert VENDOR_STATEMENT not in page.text
    other = Browser(client, services, cast.other_vendor).get("/dashboard")
    assert scene.case_id not in other.text


@needs_bwrap
@needs_gcc
def test_a_vendor_uploads_a_patch_and_sees_it_verified_in_the_sandbox(
    client: TestClient, services: Services, cast: Cast
) -> None:
    cid, _ = open_case(client, services, cast, recipe=True)
    vendor = Browser(client, services, cast.vendor)
    gamed = vendor.post(
        f"/cases/{cid}/fixes",
        {"kind": "patch"},
        files={"patch": ("gamed.patch", EXACT_POC_BLOCK, "text/x-diff")},
    )
    assert gamed.status_code == 303, gamed.text
    assert "running against it" in vendor.get(f"/cases/{cid}").text  # queued until the worker
    drain(services)
    page = vendor.get(f"/cases/{cid}")
    assert "reproduced" in page.text and "poc-comment.bin" in page.text
    r = vendor.post(
        f"/cases/{cid}/fixes",
        {"kind": "patch"},
        files={"patch": ("fix.patch", REAL_FIX, "text/x-diff")},
    )
    assert r.status_code == 303, r.text
    drain(services)
    page = vendor.get(f"/cases/{cid}")
    assert "fixed confirmed" in page.text
    r = vendor.post(f"/cases/{cid}/vendor-status", {"status": "fixed", "fixed_versions": "1.1"})
    assert r.status_code == 303, r.text
    case = client.get(f"/api/v1/cases/{cid}", headers=cast.coordinator.headers).json()
    assert case["state"] == "fixed"
