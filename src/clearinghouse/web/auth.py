"""Sign-in, sign-out and accepting an invitation (docs/web.md, "Signing in").

Users are unique per organisation by e-mail, not across the instance: the sign-in form asks for
the e-mail and password and, optionally, the organisation's name. Without it, the e-mail must
belong to exactly one user; an e-mail used in several organisations must name its own (the
refusal says so, and says nothing else)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clearinghouse.accounts import web_sessions
from clearinghouse.accounts.errors import InvitationInvalid, SignInRefused, SignInThrottled
from clearinghouse.accounts.web_sessions import Opened
from clearinghouse.core.errors import InvalidInput
from clearinghouse.web.cookies import (
    clear_cookie,
    services_of,
    session_cookie,
    set_cookie,
    web_session,
)
from clearinghouse.web.deps import CsrfChecked, OptionalPrincipal
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import redirect, render

router = page_router()

Text = Annotated[str, Form(max_length=1024)]
NextPath = Annotated[str, Form(max_length=500)]


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another origin, `//host`,
    a backslash trick) goes to the dashboard."""
    if (
        value
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and "\\" not in value
    ):
        return value
    return "/dashboard"


def _signed_in(request: Request, opened: Opened, to: str) -> RedirectResponse:
    settings = services_of(request).settings
    response = redirect(to, notice="signed_in")
    max_age = int(settings.web_session_absolute_hours * 3600)
    set_cookie(response, settings, session_cookie(settings), opened.secret, max_age)
    return response


@router.get("/sign-in")
def sign_in_form(
    request: Request,
    p: OptionalPrincipal,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    if p is not None:
        return redirect(safe_next(next))
    return render(request, "auth/sign_in.html", next=safe_next(next), error=None, email="", org="")


@router.post("/sign-in", dependencies=[CsrfChecked])
def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Text,
    organisation: Annotated[str, Form(max_length=200)] = "",
    next: NextPath = "/dashboard",
) -> Response:
    services = services_of(request)
    client = request.client.host if request.client else "unknown"
    try:
        opened = web_sessions.sign_in(
            services.db,
            services.settings,
            email=email,
            password=password,
            org_name=organisation.strip() or None,
            client=client,
        )
    except (SignInRefused, SignInThrottled) as exc:
        return render(
            request,
            "auth/sign_in.html",
            status_code=exc.status,
            next=safe_next(next),
            error=exc.detail,
            email=email,
            org=organisation,
        )
    return _signed_in(request, opened, safe_next(next))


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request) -> Response:
    services = services_of(request)
    resolved = web_session(request)
    if resolved is not None:
        with services.db.transaction() as session:
            web_sessions.revoke(session, resolved)
    response = redirect("/", notice="signed_out")
    clear_cookie(response, services.settings, session_cookie(services.settings))
    return response


@router.get("/invitations/accept")
def accept_form(
    request: Request, code: Annotated[str | None, Query(max_length=200)] = None
) -> HTMLResponse:
    return render(request, "auth/accept.html", code=code or "", error=None)


@router.post("/invitations/accept", dependencies=[CsrfChecked])
async def accept(
    request: Request,
    code: Annotated[str, Form(min_length=1, max_length=200)],
    password: Text,
    confirm: Text,
) -> Response:
    services = services_of(request)
    error: str | None = None
    if password != confirm:
        error = "The two passwords differ."
    else:
        try:
            opened = await run_in_threadpool(
                web_sessions.accept_invitation, services.db, services.settings, code, password
            )
        except (InvitationInvalid, InvalidInput) as exc:
            error = exc.detail
        else:
            return _signed_in(request, opened, "/dashboard")
    return await run_in_threadpool(
        render, request, "auth/accept.html", status_code=422, code=code, error=error
    )
