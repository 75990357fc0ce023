"""Rendering pages: one Jinja2 environment (autoescape on, undefined names an error), the
navigation, the notices a redirect may show, and the headers every page carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from clearinghouse.accounts import orgs
from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.web.cookies import csrf_token_for, services_of

env = Environment(
    loader=PackageLoader("clearinghouse.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def remaining(until: datetime) -> str:
    """Time left until `until`, as app.js shows it ("2d 03h 04m 05s"; "ended")."""
    seconds = int((until - utcnow()).total_seconds())
    if seconds <= 0:
        return "ended"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours:02d}h {minutes:02d}m {secs:02d}s"


env.filters["remaining"] = remaining

# Pages only ever load our own files: no inline script or style, no other origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    kinds: frozenset[OrgKind] | None  # who sees it; None: every signed-in user
    order: int = 50


_NAV: list[NavItem] = [NavItem("Dashboard", "/dashboard", None, 0)]
# What a redirect's `?notice=` may show: fixed text only, never text from the request.
NOTICES: dict[str, str] = {
    "signed_in": "You are signed in.",
    "signed_out": "You are signed out.",
}


def add_nav(label: str, href: str, *kinds: OrgKind, order: int = 50) -> None:
    """Add a navigation link for these organisation kinds (none: every signed-in user). A page
    module calls it once, at import."""
    item = NavItem(label, href, frozenset(kinds) or None, order)
    if item not in _NAV:
        _NAV.append(item)


def add_notice(code: str, text: str) -> None:
    """A message a redirect may show with `redirect(url, notice=code)`."""
    NOTICES[code] = text


def nav_for(principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return []
    return sorted(
        (i for i in _NAV if i.kinds is None or principal.org_kind in i.kinds),
        key=lambda i: (i.order, i.label),
    )


def url_with(request: Request, **params: str | int | None) -> str:
    """The current page's URL with some query parameters replaced (None removes one): for
    pagination links and filters."""
    query = dict(request.query_params)
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    path = request.url.path
    return f"{path}?{urlencode(query)}" if query else path


class OrgNames:
    """`org_name(org_id)` in templates: the organisation's name for an id the page already
    shows (from a service's answer), or the id itself if there is none. Looked up once per id
    and page, in a short read of its own (render has no session); autoescaped like any text."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.known: dict[str, str] = {}

    def __call__(self, org_id: str | None) -> str:
        if not org_id:
            return ""
        if org_id not in self.known:
            with services_of(self.request).db.reading() as session:
                self.known.update(orgs.names_of(session, {org_id}))
            self.known.setdefault(org_id, org_id)
        return self.known[org_id]


def render(request: Request, template: str, *, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render `template` with `ctx` plus what every page needs: the principal (or None), its
    navigation, the CSRF token for forms, the notice of a redirect and the current path."""
    token, set_cookie = csrf_token_for(request)  # resolves the session once: principal, nav
    principal: Principal | None = getattr(request.state, "principal", None)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    html = env.get_template(template).render(
        request=request,
        principal=principal,
        nav=nav_for(principal),
        csrf_token=token,
        notice=notice,
        path=request.url.path,
        url_with=lambda **p: url_with(request, **p),
        org_name=OrgNames(request),
        **ctx,
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    if set_cookie is not None:
        set_cookie(response)
    return response


def redirect(url: str, *, notice: str | None = None) -> RedirectResponse:
    """A 303 (See Other) to a local path, after a POST or to sign-in."""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        url = "/"
    if notice is not None:
        url += ("&" if "?" in url else "?") + urlencode({"notice": notice})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
