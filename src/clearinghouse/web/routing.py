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
    return render(request, "error.html", status_code=status, title=title, detail=detail)


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
