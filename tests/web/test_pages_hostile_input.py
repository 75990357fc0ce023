"""Hostile query strings and path values on every page (the pages are outside the OpenAPI
document, so schemathesis never reaches them): for each role and for nobody, hypothesis draws a
page and fills its declared query parameters and path parameters with junk, near-valid values
and values from another vocabulary. No page answers 5xx, and every answer is HTML or a redirect
(never a JSON error body, never a traceback)."""

from __future__ import annotations

import importlib
import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import DOMAINS, Services
from clearinghouse.web.routing import PageRoute
from tests.support.web import signed_in_client
from tests.support.world import World

# Values that each mean something somewhere in the product, and plain junk.
NEAR_VALID = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "999999999999999999999",
        "1e309",
        "true",
        "Act",
        "Track*",
        "open",
        "critical",
        "AMBER+STRICT",
        "2026-12-01",
        "2026-13-45T99:00:00Z",
        "CH-2026-1",
        "org_x",
        "../../etc/passwd",
        "%00",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "eyJub3QiOiJhIGN1cnNvciJ9",  # base64 of JSON, not one of our cursors
        "x" * 5000,
    ]
)
VALUES = NEAR_VALID | st.text(max_size=30)
# What a browser sends for a page (an unknown path answers it in HTML too).
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def page_routes() -> list[APIRoute]:
    """Every GET page of every domain (`container.DOMAINS[...].pages`, as the app includes them)."""
    routes = []
    for ref in (ref for domain in DOMAINS for ref in domain.pages):
        module, _, name = ref.partition(":")
        router = getattr(importlib.import_module(module), name)
        routes += [r for r in router.routes if isinstance(r, PageRoute) and "GET" in r.methods]
    assert len(routes) >= 15, "the pages are PageRoutes (web.routing.page_router)"
    return routes


@st.composite
def request_for(draw: st.DrawFn, routes: list[APIRoute]) -> tuple[str, str, dict[str, str]]:
    route = draw(st.sampled_from(routes))
    path = _PATH_PARAM.sub(
        lambda m: quote(draw(VALUES.filter(bool)), safe=""),
        route.path,
    )
    declared = [q.alias for q in route.dependant.query_params]
    names = (
        st.sampled_from([*declared, "cursor", "limit", "page", "next"])
        if declared
        else (st.sampled_from(["cursor", "limit", "page", "next"]))
    )
    query = draw(st.dictionaries(names, VALUES, max_size=4))
    return route.path, path, query


def _members(world: World) -> dict[str, Any]:
    return {
        "coordinator": world.member(
            world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin
        ),
        "operator": world.member(world.org(OrgKind.operator), OrgKind.operator, Role.admin),
        "vendor": world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member),
        "lab": world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member),
        "evaluator": world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "role", ["anonymous", "coordinator", "operator", "vendor", "lab", "evaluator"]
)
def test_no_page_gives_a_server_error_on_hostile_input(
    role: str, client: TestClient, services: Services, world: World
) -> None:
    routes = page_routes()
    if role == "anonymous":
        browser = TestClient(client.app, raise_server_exceptions=False)
    else:
        browser = signed_in_client(services, _members(world)[role])
    seen: set[str] = set()

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(request_for(routes))
    def check(req: tuple[str, str, dict[str, str]]) -> None:
        page, path, query = req
        r = browser.get(path, params=query, headers=BROWSER_ACCEPT, follow_redirects=False)
        seen.add(page)
        assert r.status_code < 500, (path, query, r.status_code, r.text[:300])
        if r.status_code in (301, 302, 303, 307, 308):
            return
        kind = r.headers.get("content-type", "")
        assert kind.startswith(("text/html", "image/svg+xml")), (
            path,
            query,
            r.status_code,
            kind,
        )
        assert "Traceback" not in r.text

    try:
        check()
    finally:
        browser.close()
    assert len(seen) >= len(routes) // 2, f"hypothesis reached {len(seen)} of {len(routes)} pages"
