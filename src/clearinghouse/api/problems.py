"""Errors as problem+json (RFC 9457), each with a stable machine `code`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.core.logging import request_id_var

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details. `code` is stable; match on it, not on `detail`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None


def problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": Problem.model_json_schema()}},
    }


# Declared on every authenticated route so the OpenAPI document describes real behaviour.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_response("the body could not be decoded"),
    401: problem_response("missing, invalid, expired or revoked token"),
    403: problem_response("the caller may see the object but not do this"),
    404: problem_response("unknown id, or an object the caller may not see"),
    409: problem_response("conflicts with the current state (e.g. an illegal transition)"),
    422: problem_response("the request breaks the schema or a rule"),
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:clearinghouse:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_var.get(),
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Pydantic echoes the offending input; never send it back (it may be an API key).
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


# The machine routes: whatever a client accepts, their errors are problem+json (or the OSV
# routes' own `{"code", "message"}`), never a page.
MACHINE_PREFIXES = ("/api", "/v1", "/.well-known", "/taxii2", "/healthz", "/readyz", "/metrics")
BrowserPage = Callable[[Request, int], Response]


def is_machine_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PREFIXES)


def accepts_html(accept: str) -> bool:
    """Whether an Accept header asks for HTML by name (a browser's does; `*/*` and an API
    client's do not), with a q-value above 0. Parsed by hand: Starlette has no negotiation, and
    this is all of it we need."""
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() not in ("text/html", "application/xhtml+xml"):
            continue
        q = next((p[2:].strip() for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def wants_page(request: Request) -> bool:
    """A browser's request for a path that is not a machine route: its errors are HTML pages."""
    return not is_machine_path(request.url.path) and accepts_html(request.headers.get("accept", ""))


async def _browser_page(page: BrowserPage, request: Request, status: int) -> Response | None:
    """The web shell's error page, in the threadpool (it resolves the session in the
    database); None if even that fails, and the caller answers problem+json."""
    try:
        return await run_in_threadpool(page, request, status)
    except Exception:
        log.exception("the browser error page failed")
        return None


def install(app: FastAPI, page: BrowserPage | None = None) -> None:
    """The error handlers. With `page` (the web shell's `browser_error_page`), a browser's
    request outside the machine routes gets an HTML page with the same status instead of
    problem+json (docs/web.md); errors inside page routes are the page router's own."""

    @app.exception_handler(ClearinghouseError)
    async def _domain(_: Request, exc: ClearinghouseError) -> JSONResponse:
        if exc.status >= 500:
            log.error("server-side error", extra={"code": exc.code, "detail": exc.detail})
        return problem(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            **{k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "invalid_request",
            "Invalid request",
            "the request does not match the schema",
            errors=_safe_validation_errors(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if page is not None and wants_page(request):
            html = await _browser_page(page, request, exc.status_code)
            if html is not None:
                html.headers.update(exc.headers or {})
                return html
        code = {400: "malformed_body", 404: "route_not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        response: Response | None = None
        if page is not None and wants_page(request):
            response = await _browser_page(page, request, 500)
        if response is None:
            response = problem(
                500,
                "internal_error",
                "Internal error",
                "an unexpected error occurred; see the server log with this request_id",
            )
        if (rid := request_id_var.get()) is not None:
            response.headers["X-Request-ID"] = rid
        return response
