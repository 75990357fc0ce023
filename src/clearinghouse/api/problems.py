"""Errors as problem+json (RFC 9457), each with a stable machine `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def install(app: FastAPI) -> None:
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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "malformed_body", 404: "route_not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        response = problem(
            500,
            "internal_error",
            "Internal error",
            "an unexpected error occurred; see the server log with this request_id",
        )
        if (rid := request_id_var.get()) is not None:
            response.headers["X-Request-ID"] = rid
        return response
