"""Error pages for browsers: an unknown path, a method a page does not take, and an unexpected
failure answer a browser (Accept: text/html) with an HTML page in the web shell, with the same
status as the API would give; API clients and the machine routes (the API, OSV, CSAF, TAXII,
health and metrics) keep their problem+json or their own error format exactly. No internal
detail appears on any of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.api.app import create_app
from clearinghouse.container import Services
from clearinghouse.web.routing import page_router
from tests.support.web import sign_in
from tests.support.world import World
from tests.web.conftest import CHROMIUM

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
API_CLIENT = {"accept": "application/json"}
INTERNAL = "INTERNAL-SECRET-7d1e: /srv/clearinghouse/db password=hunter2"


def is_html(r: Any) -> bool:
    return str(r.headers["content-type"]).startswith("text/html")


def is_problem(r: Any) -> bool:
    return str(r.headers["content-type"]).startswith("application/problem+json")


def test_a_browser_gets_an_html_404_page_and_an_api_client_problem_json(
    client: TestClient,
) -> None:
    page = client.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and is_html(page)
    assert "<h1>Page not found</h1>" in page.text
    assert 'href="/sign-in"' in page.text and 'href="/"' in page.text  # what to do next
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for headers in (API_CLIENT, {}, {"accept": "*/*"}):
        api = client.get("/no-such-page", headers=headers)
        assert api.status_code == 404 and is_problem(api)
        assert api.json()["code"] == "route_not_found"


def test_the_html_page_never_echoes_the_path(client: TestClient) -> None:
    r = client.get("/<script>alert(1)</script>", headers=BROWSER)
    assert r.status_code == 404 and is_html(r)
    assert "<script>alert" not in r.text and "alert(1)" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing",
        "/api",
        "/taxii2/no-such-root/",
        "/.well-known/csaf/no-such-folder/x.json",
        "/healthz/x",
        "/metrics/x",
    ],
)
def test_machine_routes_keep_problem_json_even_for_a_browser(client: TestClient, path: str) -> None:
    r = client.get(path, headers=BROWSER)
    assert r.status_code == 404 and is_problem(r), (path, r.headers["content-type"])


def test_the_osv_routes_keep_their_own_error_format_for_a_browser(client: TestClient) -> None:
    r = client.get("/v1/vulns/NO-SUCH-ID", headers=BROWSER)
    assert r.status_code == 404 and not is_html(r)
    assert r.json()["code"] == 5
    bad = client.post("/v1/query", content=b"{not json", headers=BROWSER)
    assert bad.status_code == 400 and bad.json()["code"] == 3
    unknown = client.get("/v1/no-such-operation", headers=BROWSER)
    assert unknown.status_code == 404 and not is_html(unknown)


def test_a_page_taking_no_such_method_answers_a_browser_with_an_html_405(
    client: TestClient,
) -> None:
    r = client.put("/dashboard", headers=BROWSER)
    assert r.status_code == 405 and is_html(r)
    api = client.put("/dashboard", headers=API_CLIENT)
    assert api.status_code == 405 and is_problem(api)


def test_a_signed_in_browser_gets_its_navigation_on_the_404_page(
    client: TestClient, services: Services, world: World
) -> None:
    member = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    sign_in(client, services, member)
    r = client.get("/no-such-page", headers=BROWSER)
    assert r.status_code == 404 and is_html(r)
    assert 'href="/dashboard"' in r.text and "Sign out" in r.text
    unknown_case = client.get("/cases/case_does_not_exist", headers=BROWSER)
    assert unknown_case.status_code == 404 and is_html(unknown_case)


@pytest.fixture
def failing_app(services: Services) -> Iterator[TestClient]:
    """The real app with one page and one API route that fail unexpectedly (a bug), carrying
    internal detail in the exception."""
    app: FastAPI = create_app(services)
    pages, api = page_router(), APIRouter()

    @pages.get("/test-broken-page")
    def broken_page() -> None:
        raise RuntimeError(INTERNAL)

    @api.get("/api/v1/test-broken")
    def broken_api() -> None:
        raise RuntimeError(INTERNAL)

    app.include_router(pages)
    app.include_router(api)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_an_unexpected_failure_shows_a_browser_no_internal_detail(
    failing_app: TestClient,
) -> None:
    page = failing_app.get("/test-broken-page", headers=BROWSER)
    assert page.status_code == 500 and is_html(page)
    assert INTERNAL not in page.text and "RuntimeError" not in page.text
    assert "Something went wrong" in page.text
    assert page.headers["x-request-id"]  # the reference the log has, for the operators
    api = failing_app.get("/api/v1/test-broken", headers=BROWSER)
    assert api.status_code == 500 and is_problem(api)
    assert api.json()["code"] == "internal_error" and INTERNAL not in api.text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one browser run
def test_the_404_page_in_a_browser_passes_axe(pages: Any) -> None:
    p = pages()
    response = p.goto("/no-such-page")  # axe runs on it: no serious or critical violation
    assert response.status == 404
    assert p.page.get_by_role("heading", name="Page not found").is_visible()
    assert p.page.get_by_role("link", name="Sign in").first.is_visible()
    p.shot("web-error-404")
