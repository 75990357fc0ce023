"""The CSAF trusted provider (`vulns/publication/provider/`): `/.well-known/csaf/...` served
from the built directory, and `/.well-known/security.txt` with its `CSAF:` line. The TLP:CLEAR
folder (`white/`), the metadata and the public key need no token; the other TLP folders take
`Authorization: Bearer` and the policy decides (`csaf:read-restricted`). HTTP semantics are
`api.http.PublicRoute`'s, as on the OSV API: gzip when accepted, strong ETags with 304,
Last-Modified (the file's), Cache-Control (`private, no-store` for the restricted folders), CORS
with preflight (aggregators and browsers read the directory; no credentials are ever allowed
cross-origin, and tokens travel only in `Authorization`), and HEAD."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import ServicesDep
from clearinghouse.api.http import PublicRoute
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.api.routes.taxii import optional_principal
from clearinghouse.vulns.publication.provider import serving

router = APIRouter(tags=["csaf"], responses=ERROR_RESPONSES, route_class=PublicRoute)


def _file(
    path: str,
    request: Request,
    services: ServicesDep,
    p: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    served = serving.read(services.settings, p, path)
    public = not path.startswith(tuple(f"{f}/" for f in serving.RESTRICTED))
    headers = {
        "ETag": served.etag,
        "Last-Modified": served.last_modified,
        "Cache-Control": "public, max-age=300" if public else "private, no-store",
    }
    return Response(served.body, media_type=served.media_type, headers=headers)


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


# The directory is at most three deep (<tlp>/<year>/<file>), one route per depth.
@router.get("/.well-known/csaf/{name}", response_class=Response)
def csaf_top(name: str, request: Request, services: ServicesDep, p: MaybePrincipal) -> Response:
    """provider-metadata.json."""
    return _file(name, request, services, p)


@router.get("/.well-known/csaf/{folder}/{name}", response_class=Response)
def csaf_folder(
    folder: str, name: str, request: Request, services: ServicesDep, p: MaybePrincipal
) -> Response:
    """A TLP folder's ROLIE feed, index.txt or changes.csv; the public key (`openpgp/`)."""
    return _file(f"{folder}/{name}", request, services, p)


@router.get("/.well-known/csaf/{folder}/{year}/{name}", response_class=Response)
def csaf_document(
    folder: str, year: str, name: str, request: Request, services: ServicesDep, p: MaybePrincipal
) -> Response:
    """A document and its .sha256, .sha512 and .asc."""
    return _file(f"{folder}/{year}/{name}", request, services, p)


@router.get("/.well-known/security.txt", response_class=PlainTextResponse)
def security_txt(services: ServicesDep) -> PlainTextResponse:
    """RFC 9116: Contact, Expires, and the CSAF provider-metadata URL (`CSAF:`)."""
    return PlainTextResponse(serving.security_txt(services.settings))
