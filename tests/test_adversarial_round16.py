"""Adversarial review of round 16's web changes (helper R3): the error pages' content
negotiation (every Accept a client may send, HEAD, machine paths, a path carrying markup), and
the organisation names on case pages (a page never names an organisation whose id the API
does not show the same viewer)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from clearinghouse.accounts.models import Org
from clearinghouse.container import Services
from tests.coordination.fix_kit import Cast
from tests.support.world import Member, World
from tests.web.pages_kit import Browser, build_case

MARK = "zq7-path-marker"


def _kind(r: Any) -> str:
    ctype = str(r.headers.get("content-type", ""))
    if ctype.startswith("text/html"):
        return "html"
    if ctype.startswith("application/problem+json"):
        return "problem"
    return ctype or "none"


@pytest.mark.parametrize(
    ("accept", "want"),
    [
        (None, "problem"),  # no Accept at all
        ("*/*", "problem"),
        ("application/json", "problem"),
        ("application/problem+json", "problem"),
        ("text/html;q=0", "problem"),
        ("text/html; q=0.000", "problem"),
        ("TEXT/HTML;Q=0", "problem"),
        ("text/html;q=nonsense", "problem"),
        ("text/*", "problem"),  # not HTML by name
        ("text/html", "html"),
        ("TEXT/HTML", "html"),
        ("application/json;q=1, text/html;q=0.1", "html"),
        ("application/xhtml+xml", "html"),
        ("text/html;level=1;q=0.5", "html"),
    ],
)
def test_an_unknown_page_path_negotiates_by_accept(
    client: TestClient, accept: str | None, want: str
) -> None:
    headers = {} if accept is None else {"accept": accept}
    r = client.get(f"/no-such-page-{MARK}", headers=headers)
    assert r.status_code == 404 and _kind(r) == want, (r.status_code, r.headers, r.text[:200])
    assert MARK not in r.text
    if want == "problem":
        assert r.json()["code"] == "route_not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-route",
        "/api",
        "/v1/no-such",
        "/.well-known/no-such",
        "/taxii2/no-such/",
        "/healthz/no-such",
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_a_machine_path_is_never_a_page(client: TestClient, path: str, accept: str) -> None:
    r = client.get(path, headers={"accept": accept})
    assert r.status_code in (404, 405), (path, r.status_code)
    assert _kind(r) != "html", (path, r.text[:200])


@pytest.mark.parametrize("accept", ["text/html", "*/*", None])
def test_head_of_an_unknown_path_is_a_bodiless_404(client: TestClient, accept: str | None) -> None:
    r = client.head("/no-such-page", headers={} if accept is None else {"accept": accept})
    assert r.status_code == 404 and r.content == b""


def test_a_path_carrying_markup_is_never_echoed(client: TestClient) -> None:
    hostile = "/%3Cscript%3Ealert(1)%3C/script%3E/" + MARK
    for accept in ("text/html", "application/json"):
        r = client.get(hostile, headers={"accept": accept})
        assert r.status_code == 404
        assert "<script>alert(1)" not in r.text and MARK not in r.text


def test_a_method_a_page_does_not_take_is_a_405_page_or_problem(client: TestClient) -> None:
    for accept, want in (("text/html", "html"), ("application/json", "problem")):
        r = client.request("DELETE", "/", headers={"accept": accept})
        assert r.status_code == 405 and _kind(r) == want, (accept, r.status_code, r.text[:200])


# --- organisation names on case pages -------------------------------------------------------


def _name_every_org(services: Services) -> dict[str, str]:
    """Every organisation gets a findable name: org id -> name."""
    names: dict[str, str] = {}
    with services.db.transaction() as s:
        for n, org_id in enumerate(s.scalars(select(Org.id).order_by(Org.id))):
            names[org_id] = f"OrgName-{n:03d}-q8"
            s.execute(update(Org).where(Org.id == org_id).values(name=names[org_id]))
    return names


def _api_text(client: TestClient, who: Member, case_id: str) -> str:
    """Everything the API shows `who` of the case."""
    out = []
    for path in ("", "/timeline", "/messages", "/artifacts", "/fixes"):
        r = client.get(f"/api/v1/cases/{case_id}{path}", headers=who.headers)
        if r.status_code == 200:
            out.append(r.text)
    return "\n".join(out)


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


def test_a_case_page_names_only_organisations_the_api_shows_the_viewer(
    client: TestClient, services: Services, cast: Cast
) -> None:
    scene = build_case(client, services, cast)
    names = _name_every_org(services)
    by_name = {v: k for k, v in names.items()}
    viewers = (
        cast.coordinator,
        cast.vendor,
        cast.vendor_viewer,
        cast.reporter,
        cast.operator,
        cast.other_vendor,
    )
    for who in viewers:
        api = _api_text(client, who, scene.case_id)
        browser = Browser(client, services, who)
        for page in ("", "/timeline"):
            r = browser.get(f"/cases/{scene.case_id}{page}")
            shown = set(re.findall(r"OrgName-\d{3}-q8", r.text))
            shown.discard(names[who.org_id])  # the viewer's own organisation (the header)
            unexplained = {n for n in shown if by_name[n] not in api}
            if who is cast.coordinator and page == "":
                assert names[cast.vendor.org_id] in shown  # the witness: pages do name orgs
            assert not unexplained, (who.kind, who.role, page, r.status_code, unexplained)
