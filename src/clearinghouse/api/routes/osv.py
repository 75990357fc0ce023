"""The OSV-compatible public API (no token): `/v1/query`, `/v1/querybatch`, `/v1/vulns/{id}`
and `/v1/vulns?modified_since=`. It follows osv.dev's contract, including its error bodies
(`{"code": 3, "message": ...}` with HTTP 400), and serves only what is public: published,
TLP:CLEAR and not under embargo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from clearinghouse.api.deps import ReadSessionDep
from clearinghouse.api.problems import problem_response
from clearinghouse.vulns import services

router = APIRouter(
    prefix="/v1",
    tags=["osv"],
    responses={422: problem_response("a path or query parameter is malformed")},
)

_ERROR = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                "required": ["code", "message"],
            }
        }
    }
}
_OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}


def _json(content: Any) -> Response:
    """orjson-encoded JSON: records are large and batches long, and json.dumps is the cost."""
    return Response(orjson.dumps(content), media_type="application/json")


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    """osv.dev reads the body as JSON whatever the Content-Type (pip-audit sends none)."""
    raw = await request.body()
    if len(raw) > 32 * 1024**2:
        return services.QueryError("request body too large")
    try:
        return orjson.loads(raw or b"{}")
    except ValueError:
        return services.QueryError("the body is not valid JSON")


JsonBody = Annotated[Any, Depends(_json_body)]
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _answer(
    call: Callable[[Session, dict[str, Any]], dict[str, Any]], session: Session, body: Any
) -> Response:
    """Run an OSV query service; a malformed body or query answers 400 as osv.dev does."""
    try:
        if isinstance(body, services.QueryError):
            raise body
        if not isinstance(body, dict):
            raise services.QueryError("the body must be a JSON object")
        return _json(call(session, body))
    except services.QueryError as exc:
        return _error(400, 3, exc.detail)


_POST = {
    "responses": {200: _OBJECT, 400: _ERROR},
    "response_class": JSONResponse,
    "openapi_extra": _BODY,
}


@router.post("/query", **_POST)  # type: ignore[arg-type]
def query(session: ReadSessionDep, body: JsonBody) -> Response:
    """Vulnerabilities affecting one package version (or all versions), as OSV records."""
    return _answer(services.query, session, body)


@router.post("/querybatch", **_POST)  # type: ignore[arg-type]
def querybatch(session: ReadSessionDep, body: JsonBody) -> Response:
    """Up to 1,000 queries; each result lists `{id, modified}` only, as on osv.dev."""
    return _answer(services.querybatch, session, body)


@router.get("/vulns/{vuln_id}", responses={200: _OBJECT, 404: _ERROR}, response_class=JSONResponse)
def get_vuln(
    vuln_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:+-]{1,120}$")], session: ReadSessionDep
) -> Response:
    record = services.get_public(session, vuln_id)
    return _json(record) if record is not None else _error(404, 5, "Bug not found.")


@router.get("/vulns", responses={200: _OBJECT}, response_class=JSONResponse)
def modified_since(
    session: ReadSessionDep,
    modified_since: Annotated[datetime, Query()],
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> JSONResponse:
    """Incremental sync: `{id, modified}` of public records modified after the given time."""
    if modified_since.tzinfo is None:
        return _error(400, 3, "modified_since needs a timezone (e.g. 2026-01-01T00:00:00Z)")
    return JSONResponse({"vulns": services.modified_since(session, modified_since, limit=limit)})
