"""The CSAF trusted provider (`vulns/publication/provider/`): `/.well-known/csaf/...` served
from the built directory, and `/.well-known/security.txt` with its `CSAF:` line. The TLP:CLEAR
folder (`white/`), the metadata and the public key need no token; the other TLP folders take
`Authorization: Bearer` and the policy decides (`csaf:read-restricted`). Headers: Content-Type,
ETag (the file's SHA-256, with 304 on If-None-Match), Last-Modified, Cache-Control."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import ServicesDep
from clearinghouse.api.routes.taxii import optional_principal
from clearinghouse.vulns.publication.provider import serving

router = APIRouter(tags=["csaf"])


@router.get("/.well-known/csaf/{path:path}", response_class=Response)
def csaf_file(
    path: str,
    request: Request,
    services: ServicesDep,
    p: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    """A file of the provider directory: provider-metadata.json, a TLP folder's ROLIE feed,
    index.txt, changes.csv, a document and its .sha256, .sha512 and .asc, the public key."""
    served = serving.read(services.settings, p, path)
    public = not path.startswith(tuple(f"{f}/" for f in serving.RESTRICTED))
    headers = {
        "ETag": served.etag,
        "Last-Modified": served.last_modified,
        "Cache-Control": "public, max-age=300" if public else "private, no-store",
    }
    if request.headers.get("if-none-match") == served.etag:
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type=served.media_type, headers=headers)


@router.get("/.well-known/security.txt", response_class=PlainTextResponse)
def security_txt(services: ServicesDep) -> PlainTextResponse:
    """RFC 9116: Contact, Expires, and the CSAF provider-metadata URL (`CSAF:`)."""
    return PlainTextResponse(serving.security_txt(services.settings))
