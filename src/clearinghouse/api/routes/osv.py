"""The OSV-compatible public API (no token): `/v1/query`, `/v1/querybatch`, `/v1/vulns/{id}`
and `/v1/vulns?modified_since=`. It follows osv.dev's contract, including its error bodies
(`{"code": 3, "message": ...}` with HTTP 400), and serves only what is public: published,
TLP:CLEAR and not under embargo."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from clearinghouse.api.deps import ReadSessionDep
from clearinghouse.api.http import PublicRoute
from clearinghouse.container import Services
from clearinghouse.core.schemas import INSTANT_RANGE, Instant
from clearinghouse.storage.db import Database
from clearinghouse.vulns.errors import QueryError
from clearinghouse.vulns.public import index as public_index
from clearinghouse.vulns.public import queries
from clearinghouse.vulns.public.index import PublicIndex
from clearinghouse.vulns.records import parse_ts

# Every answer of these routes, errors included, is in osv.dev's shape: parameters are read as
# text and checked here (FastAPI's own validation would answer a problem+json 422).
# HTTP semantics (gzip, ETag/304, Cache-Control, Last-Modified, CORS, HEAD): `api.http`.
router = APIRouter(prefix="/v1", tags=["osv"], route_class=PublicRoute)

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


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_MAX_BODY = 32 * 1024**2


QueryService = Callable[[Database, dict[str, Any], PublicIndex | None], dict[str, Any]]


def _run(call: QueryService, db: Database, raw: bytes, index: PublicIndex | None) -> Response:
    """Parse the body and run an OSV query service; a malformed body or query answers 400 as
    osv.dev does (which reads the body as JSON whatever the Content-Type: pip-audit sends
    none)."""
    try:
        if len(raw) > _MAX_BODY:
            raise QueryError("request body too large")
        try:
            body = orjson.loads(raw or b"{}")
        except ValueError:
            raise QueryError("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise QueryError("the body must be a JSON object")
        return _json(call(db, body, index))
    except QueryError as exc:
        return _error(400, 3, exc.detail)


async def _answer(request: Request, call: QueryService) -> Response:
    # The public queries are the hot path (scanners send them by the thousand), so they skip
    # FastAPI's body and dependency machinery. The answer comes from the in-memory public
    # index; the database is asked only whether anything changed (`vulns.public.index`). On
    # SQLite that is a microsecond read that never waits on a writer (WAL), and the rest is
    # CPU work that the GIL serialises anyway, so when the index is current it runs right
    # here: a threadpool hop costs more than the work (measured: 3.7k vs 5.0k queries/s). A
    # reload (at start, after a change) takes the threadpool, so it never stalls the event
    # loop, nor health checks with it. On PostgreSQL asking is a network round trip, so the
    # work always takes one hop to the threadpool.
    raw = await request.body()
    if await request.is_disconnected():
        # The client gave up while the request queued for admission (load generators and
        # impatient scanners do): skip the work, or a burst of abandoned batches would delay
        # every later request. 499 is nginx's "client closed request"; nobody reads it.
        return Response(status_code=499)
    db = cast("Services", request.app.state.services).db
    if db.dialect == "sqlite" and (index := public_index.current(db)) is not None:
        return _run(call, db, raw, index)
    return await run_in_threadpool(_run, call, db, raw, None)


_POST = {
    "responses": {200: _OBJECT, 400: _ERROR},
    "response_class": JSONResponse,
    "openapi_extra": _BODY,
}


@router.post("/query", **_POST)  # type: ignore[arg-type]
async def query(request: Request) -> Response:
    """Vulnerabilities affecting one package version (or all versions), as OSV records."""
    return await _answer(request, queries.query)


@router.post("/querybatch", **_POST)  # type: ignore[arg-type]
async def querybatch(request: Request) -> Response:
    """Up to 1,000 queries; each result lists `{id, modified}` only, as on osv.dev."""
    return await _answer(request, queries.querybatch)


_VULN_ID = re.compile(r"[A-Za-z0-9._:+-]{1,120}")
_LIMIT = re.compile(r"[0-9]{1,4}")
_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


@router.get("/vulns/{vuln_id}", responses={200: _OBJECT, 404: _ERROR}, response_class=JSONResponse)
def get_vuln(
    vuln_id: Annotated[
        str, Path(description="a record's id (not an alias: see /v1/aliases?alias=)")
    ],
    session: ReadSessionDep,
) -> Response:
    """One public record by its id, withdrawn ones included (osv.dev serves them too)."""
    # An id of another shape names no record (and may hold what no database stores, a NUL).
    record = queries.get_public(session, vuln_id) if _VULN_ID.fullmatch(vuln_id) else None
    if record is None:
        return _error(404, 5, "Bug not found.")
    response = _json(record)
    modified = parse_ts(record["modified"])
    if modified is not None:
        response.headers["Last-Modified"] = format_datetime(modified, usegmt=True)
    return response


@router.get("/aliases", responses={200: _OBJECT, 400: _ERROR}, response_class=JSONResponse)
def by_alias(
    session: ReadSessionDep,
    alias: Annotated[str | None, Query(description="an alias, such as a CVE id (required)")] = None,
) -> Response:
    """`{id, modified}` of every public record that lists `alias` among its aliases (several
    databases' records may share one CVE). Not part of osv.dev's API, whose
    `/v1/vulns/{id}` takes ids only, as ours does; documented in docs/osv.md."""
    if not alias:
        return _error(400, 3, "alias is required")
    rows = queries.by_alias(session, alias) if _VULN_ID.fullmatch(alias) else []
    return _json({"vulns": rows} if rows else {})


@router.get("/vulns", responses={200: _OBJECT, 400: _ERROR}, response_class=JSONResponse)
def modified_since(
    session: ReadSessionDep,
    modified_since: Annotated[
        str | None, Query(description="an ISO 8601 time with a timezone (required); inclusive")
    ] = None,
    limit: Annotated[str | None, Query(description="1 to 1000 (default 1000)")] = None,
    page_token: Annotated[
        str | None, Query(description="the previous page's next_page_token")
    ] = None,
) -> Response:
    """Incremental sync: `{id, modified}` of public records modified at or after the given
    time, ordered by (modified, id), with `next_page_token` while more may follow."""
    try:
        since = _INSTANT.validate_python(modified_since)
    except ValidationError:
        return _error(
            400,
            3,
            "modified_since must be an ISO 8601 time with a timezone (e.g. "
            f"2026-01-01T00:00:00Z), {INSTANT_RANGE}",
        )
    if limit is not None and not (_LIMIT.fullmatch(limit) and 1 <= int(limit) <= 1000):
        return _error(400, 3, "limit must be an integer from 1 to 1000")
    try:
        page = queries.modified_since(
            session, since, limit=int(limit) if limit else 1000, page_token=page_token
        )
    except QueryError as exc:
        return _error(400, 3, exc.detail)
    return _json(page)
