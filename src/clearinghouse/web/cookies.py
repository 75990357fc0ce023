"""The browser's state: the session cookie, resolved to a web session once per request, and the
CSRF token that every form carries.

- Signed in: the token is derived from the session's secret (`accounts.web_sessions`), only its
  hash is stored, and a POST must carry that token.
- Anonymous (the sign-in and invitation forms: login CSRF): a random `ch_csrf` cookie and, in
  the form, its HMAC under a key derived from the instance's master key (a signed double
  submit: a page on another origin can neither read the cookie nor forge the HMAC).

Cookie names: `__Host-ch_session` / `__Host-ch_csrf` (Secure, HttpOnly, SameSite=Lax, Path=/)
when `Settings.web_cookie_secure`; `ch_session` / `ch_csrf` without Secure otherwise (insecure
development over http://127.0.0.1 only; production refuses it)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from fastapi import Request, Response

from clearinghouse.accounts import web_sessions
from clearinghouse.accounts.web_sessions import Resolved
from clearinghouse.container import Services
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import Unauthenticated

_UNSET = object()


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def session_cookie(settings: Settings) -> str:
    return "__Host-ch_session" if settings.web_cookie_secure else "ch_session"


def csrf_cookie(settings: Settings) -> str:
    return "__Host-ch_csrf" if settings.web_cookie_secure else "ch_csrf"


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.web_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=settings.web_cookie_secure, httponly=True, samesite="lax"
    )


def web_session(request: Request) -> Resolved | None:
    """The request's signed-in session, or None (no cookie, or one that is unknown, expired,
    revoked, or whose user is disabled). Resolved once per request, in its own short
    transaction (it touches `last_seen_at`); sets `request.state.principal`."""
    cached = getattr(request.state, "web_session", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    services = services_of(request)
    secret = request.cookies.get(session_cookie(services.settings))
    resolved: Resolved | None = None
    if secret:
        try:
            with services.db.transaction() as session:
                resolved = web_sessions.resolve(session, secret, services.settings)
        except Unauthenticated:
            resolved = None
    request.state.web_session = resolved
    request.state.principal = resolved.principal if resolved else None
    return resolved


def _anonymous_key(settings: Settings) -> bytes:
    return hmac.new(
        settings.master_key_bytes, b"clearinghouse web anonymous csrf v1", "sha256"
    ).digest()


def _anonymous_token(settings: Settings, cookie: str) -> str:
    return hmac.new(_anonymous_key(settings), cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token_for(request: Request) -> tuple[str, Callable[[Response], None] | None]:
    """The CSRF token a form on this page carries, and (anonymous visitors without a CSRF
    cookie yet) the cookie the response must set for it."""
    services = services_of(request)
    settings = services.settings
    resolved = web_session(request)
    secret = request.cookies.get(session_cookie(settings))
    if resolved is not None and secret:
        return web_sessions.csrf_token(secret), None
    cookie = request.cookies.get(csrf_cookie(settings), "")
    if 20 <= len(cookie) <= 100:
        return _anonymous_token(settings, cookie), None
    fresh = secrets.token_urlsafe(32)

    def setter(response: Response) -> None:
        set_cookie(response, settings, csrf_cookie(settings), fresh, max_age=12 * 3600)

    return _anonymous_token(settings, fresh), setter


def csrf_valid(request: Request, token: object) -> bool:
    """Whether a POSTed `csrf_token` is this browser's: the session's when signed in, the
    anonymous cookie's otherwise. Compared in constant time."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return False
    resolved = web_session(request)
    settings = services_of(request).settings
    if resolved is not None:
        return web_sessions.csrf_matches(resolved, token)
    cookie = request.cookies.get(csrf_cookie(settings), "")
    if not 20 <= len(cookie) <= 100:
        return False
    return hmac.compare_digest(_anonymous_token(settings, cookie), token)
