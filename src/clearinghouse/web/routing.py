"""`page_router()`: the APIRouter every page module uses. Its routes answer in HTML whatever
happens: an anonymous visitor to a private page is redirected to sign-in (303), and a domain
error (404 for what the caller may not see, 403, 409, 422...) or a malformed request becomes an
HTML error page with the same status as the API's problem+json, never the JSON body."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.web.deps import SignInRequired, sign_in_url
from clearinghouse.web.templating import redirect, render

log = logging.getLogger("clearinghouse.web")


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(
        request, "error.html", status_code=status, title=title, detail=detail, status=status
    )


# What a browser is told when no page answers (the app's error handlers, api/problems.py): fixed
# text per status, never the path, the exception or anything else from the request.
_BROWSER_ERRORS: dict[int, tuple[str, str]] = {
    404: (
        "Page not found",
        "There is no page at this address. Check the link, or start again from the front page.",
    ),
    405: (
        "Not allowed here",
        "This page does not take that kind of request. Go back and use the "
        "page's own links and forms.",
    ),
}
_SOMETHING_WRONG = (
    "Something went wrong",
    "Try again later. If it keeps happening, tell the instance's operators when it happened.",
)


def browser_error_page(request: Request, status: int) -> Response:
    """The HTML page of an error raised outside any page route (an unknown path, a method a page
    does not take) or of an unexpected failure, for a browser. It resolves the visitor's session
    (for the navigation): when that fails too, a bare page without it."""
    title, detail = (
        _SOMETHING_WRONG
        if status >= 500
        else _BROWSER_ERRORS.get(
            status, ("Request refused", "This request cannot be answered. Go back and try again.")
        )
    )
    try:
        return error_page(request, status, title, detail)
    except Exception:  # the database may be what failed: the page as an anonymous visitor's
        log.exception("the error page could not resolve the session")
        request.state.web_session, request.state.principal = None, None
        return error_page(request, status, title, detail)


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInRequired as exc:
                return redirect(sign_in_url(exc.next_path))
            except ClearinghouseError as exc:
                if exc.status >= 500:
                    log.error("server-side error", extra={"code": exc.code, "detail": exc.detail})
                    return error_page(
                        request, exc.status, "Something went wrong", "Try again later."
                    )
                return error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError:
                return error_page(
                    request, 422, "Invalid request", "Some of the values sent are not valid."
                )
            except HTTPException as exc:
                return error_page(request, exc.status_code, "Error", str(exc.detail))

        return handler


def page_router(prefix: str = "") -> APIRouter:
    """A router for pages: declare it in `container.DOMAINS` under `pages`; the app includes it
    outside the OpenAPI document."""
    return APIRouter(prefix=prefix, route_class=PageRoute, include_in_schema=False)
