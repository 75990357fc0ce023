"""TAXII 2.1, read-only (`vulns/publication/taxii.py`): `/taxii2/` (discovery), the API root
`/taxii2/api/`, its collections (one per TLP label), and each collection's `objects/` and
`manifest/`. TLP:CLEAR's collection needs no token; the others take `Authorization: Bearer`.
Every answer, errors included, is `application/taxii+json;version=2.1` (errors as TAXII
error messages, with our stable `error_code`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clearinghouse.accounts import tokens as accounts
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import ReadSessionDep, ServicesDep
from clearinghouse.api.http import PublicRoute
from clearinghouse.core.errors import ClearinghouseError, Unauthenticated
from clearinghouse.vulns.publication import taxii

_bearer = HTTPBearer(auto_error=False)
_TAXII = {"content": {taxii.MEDIA_TYPE: {"schema": {"type": "object"}}}}
# TAXII error messages (in the TAXII media type), for every route.
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": why, **_TAXII}
    for status, why in (
        (400, "a bad filter or paging value"),
        (401, "a restricted collection without a valid token"),
        (404, "an unknown collection, or one the caller may not see"),
        (406, "an Accept header without the TAXII media type"),
    )
}
# HTTP semantics as on the OSV API (`api.http.PublicRoute`): gzip, strong ETags with 304,
# Cache-Control, CORS with preflight (no credentials cross-origin), HEAD.
router = APIRouter(prefix="/taxii2", tags=["taxii"], responses=_ERRORS, route_class=PublicRoute)


def optional_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The token's principal, None without one; a bad token is refused (401)."""
    if credentials is None:
        return None
    with services.db.transaction() as session:
        return accounts.authenticate(session, credentials.credentials)


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
ANONYMOUS = Principal(None, None, None, None, frozenset())


def _taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=taxii.MEDIA_TYPE, headers=headers
    )


def _answer(request: Request, make: Callable[[], Response]) -> Response:
    try:
        taxii.check_accept(request.headers.get("accept"))
        return make()
    except ClearinghouseError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return _taxii(
            {
                "title": exc.code.replace("_", " "),
                "description": str(exc),
                "error_code": exc.code,
                "http_status": str(exc.status),
            },
            exc.status,
            headers,
        )


@router.get("/", responses={200: _TAXII})
def discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return _answer(request, lambda: _taxii(taxii.discovery(base)))


@router.get(f"/{taxii.API_ROOT}/", responses={200: _TAXII})
def api_root(request: Request) -> Response:
    return _answer(request, lambda: _taxii(taxii.api_root()))


@router.get(f"/{taxii.API_ROOT}/collections/", responses={200: _TAXII})
def collections(request: Request, p: MaybePrincipal) -> Response:
    return _answer(request, lambda: _taxii(taxii.collections(p or ANONYMOUS)))


@router.get(f"/{taxii.API_ROOT}/collections/{{cid}}/", responses={200: _TAXII})
def collection(request: Request, cid: str, p: MaybePrincipal) -> Response:
    return _answer(request, lambda: _taxii(taxii.collection(p or ANONYMOUS, cid)))


def _page(
    request: Request, session: Any, cid: str, p: Principal | None, default: int, manifest: bool
) -> Response:
    def make() -> Response:
        q = request.query_params
        page = taxii.objects(
            session,
            p or ANONYMOUS,
            cid,
            added_after=q.get("added_after"),
            limit=q.get("limit"),
            next_token=q.get("next"),
            default_limit=default,
            manifest=manifest,
        )
        headers = {}
        if page.first and page.last:
            headers = {"X-TAXII-Date-Added-First": page.first, "X-TAXII-Date-Added-Last": page.last}
        return _taxii(page.body, headers=headers)

    return _answer(request, make)


@router.get(f"/{taxii.API_ROOT}/collections/{{cid}}/objects/", responses={200: _TAXII})
def objects(
    request: Request, cid: str, p: MaybePrincipal, session: ReadSessionDep, svc: ServicesDep
) -> Response:
    """The collection's STIX objects, paged with `limit`, `added_after` and `next`."""
    return _page(request, session, cid, p, svc.settings.taxii_page_size, manifest=False)


@router.get(f"/{taxii.API_ROOT}/collections/{{cid}}/manifest/", responses={200: _TAXII})
def manifest(
    request: Request, cid: str, p: MaybePrincipal, session: ReadSessionDep, svc: ServicesDep
) -> Response:
    """The manifest of the collection's objects, paged as `objects/`."""
    return _page(request, session, cid, p, svc.settings.taxii_page_size, manifest=True)
