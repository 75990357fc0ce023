"""Coordination journeys in headless Chromium (Debian's /usr/bin/chromium through Playwright,
never `playwright install`) against the real server: a coordinator triages, merges a duplicate
and opens a case; a vendor uploads a patch and sees it verified in the sandbox; an outsider is
refused on each of those pages. axe-core runs on every page visited (serious and critical
violations fail), and each main page is saved as a screenshot.

Until the shell's shared browser fixtures land (tests/web/conftest.py), this file starts its
own server (tests/support/server.py) and opens a web session per member directly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts import web_sessions
from clearinghouse.accounts.models import User
from clearinghouse.container import Services
from tests.coordination.fix_kit import Cast
from tests.coordination.test_fixes import REAL_FIX, drain, open_case
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.server import serving
from tests.support.world import Member, World
from tests.web.pages_kit import scan_duplicates, submit_report

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # one browser run
]


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


@pytest.fixture
def server(cli_env: dict[str, str]) -> Iterator[str]:
    with serving({**cli_env, "CLEARINGHOUSE_WEB_INSECURE_COOKIES": "true"}) as base:
        yield base


@pytest.fixture
def chromium(browser: Any) -> Any:
    """The session's one browser (tests/web/conftest.py): a second `sync_playwright` in the
    same process refuses to start inside the first one's event loop."""
    return browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CLEARINGHOUSE_WEB_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def signed_in(chromium: Any, services: Services, base: str, who: Member) -> Any:
    with services.db.transaction() as s:
        user = s.scalar(select(User).where(User.id == who.user_id))
        assert user is not None
        opened = web_sessions.open_session(s, user, services.settings, via="password")
    context = chromium.new_context(base_url=base)
    context.add_cookies([{"name": "ch_session", "value": opened.secret, "url": base}])
    return context.new_page()


def checked(page: Any, shots: Path, name: str | None = None) -> None:
    """axe-core on the page: no serious or critical violation; then the screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, (page.url, bad)
    if name:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_a_coordinator_triages_merges_a_duplicate_and_opens_a_case(
    client: TestClient, services: Services, cast: Cast, server: str, chromium: Any, shots: Path
) -> None:
    first = submit_report(client, cast.reporter)
    dup = submit_report(client, cast.reporter, title="Again: OOB write in tinyparse")
    scan_duplicates(services, first["vuln_id"], dup["vuln_id"])
    page = signed_in(chromium, services, server, cast.coordinator)
    page.goto("/triage")
    checked(page, shots, "triage-queue")
    page.click(f'a[href="/triage/reports/{first["id"]}"]')
    checked(page, shots, "triage-report")
    page.select_option("#t-status", "triaged")
    page.click("text=Save triage")
    assert "The record was updated." in page.inner_text("main")
    page.goto("/triage/duplicates")
    checked(page, shots, "triage-duplicates")
    page.click("button:has-text('Merge')")
    assert "merged into one alias set" in page.inner_text("main")
    page.goto(f"/triage/reports/{first['id']}")
    page.fill("#c-title", "tinyparse heap overflow")
    page.click("text=Open the case")
    assert "/cases/case_" in page.url and "The case is open" in page.inner_text("main")
    checked(page, shots, "case-coordinator")


@needs_bwrap
@needs_gcc
def test_a_vendor_posts_a_fix_and_sees_it_verified(
    client: TestClient,
    services: Services,
    cast: Cast,
    server: str,
    chromium: Any,
    shots: Path,
    tmp_path: Path,
) -> None:
    cid, _ = open_case(client, services, cast, recipe=True)
    page = signed_in(chromium, services, server, cast.vendor)
    page.goto("/vendor/cases")
    checked(page, shots, "vendor-cases")
    page.click(f'a[href="/cases/{cid}"]')
    checked(page, shots)
    patch = tmp_path / "fix.patch"
    patch.write_bytes(REAL_FIX)
    page.set_input_files("#fx-patch", str(patch))
    page.click("text=Post the fix")
    assert "Your fix was posted" in page.inner_text("main")
    drain(services)  # the worker runs the recipe against the patch in the sandbox
    page.reload()
    assert "fixed confirmed" in page.inner_text("main")
    checked(page, shots, "case-vendor-fix-verified")


def test_an_outsider_is_refused_on_each_page(
    client: TestClient,
    services: Services,
    cast: Cast,
    world: World,
    server: str,
    chromium: Any,
    shots: Path,
) -> None:
    report = submit_report(client, cast.reporter)
    r = client.post(
        "/api/v1/cases",
        json={"vuln_ids": [report["vuln_id"]], "title": "tinyparse heap overflow"},
        headers=cast.coordinator.headers,
    )
    cid = r.json()["id"]
    page = signed_in(chromium, services, server, cast.other_vendor)
    for path, status in (
        ("/triage", 403),
        ("/triage/duplicates", 403),
        (f"/triage/reports/{report['id']}", 404),
        (f"/cases/{cid}", 404),
    ):
        response = page.goto(path)
        assert response is not None and response.status == status, path
        assert "tinyparse" not in page.inner_text("main")
        checked(page, shots)
