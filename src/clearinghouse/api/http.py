"""HTTP semantics for the public, read-only routes (the OSV API, the CSAF provider directory and
TAXII; the last two also serve restricted files to a bearer token): gzip when the client accepts it, strong ETags with 304
on `If-None-Match`, `Last-Modified` with 304 on `If-Modified-Since`, `Cache-Control`, CORS for
browsers (preflight `OPTIONS` answered, not 405) and `HEAD` wherever `GET` is.

Use it by giving a router `route_class=PublicRoute`. It applies to that router's routes only:
an authenticated route must never answer `Access-Control-Allow-Origin: *`, so this is not an
application-wide middleware. Starlette's `GZipMiddleware` is not used because it compresses
after the ETag is chosen (one strong ETag for two representations) and applies to whole apps;
here the answer is finished in one place: checked against the client's validators, then
encoded. Written by hand, as no maintained library does conditional requests for FastAPI."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable, Coroutine
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

GZIP_MIN_BYTES = 500  # as GZipMiddleware: smaller answers gain nothing from compression
# Measured on a 4.6 MB querybatch answer: level 1 takes 22 ms (13x smaller), 5 takes 61 ms,
# GZipMiddleware's 9 takes 343 ms (18x smaller). Small answers take level 5 (0.35 ms on 40 KB).
GZIP_LEVEL, GZIP_LEVEL_LARGE, LARGE_BYTES = 5, 1, 256 * 1024
DEFAULT_CACHE_CONTROL = "public, max-age=60"
_HEADER_NAMES = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Content-Encoding, X-Request-ID",
}
_ALLOWED_REQUEST_HEADERS = "Content-Type, If-None-Match, If-Modified-Since, X-Request-ID"


class PublicRoute(APIRoute):
    """A route of the public read-only API (see the module's docstring). `OPTIONS` and
    `HEAD` match without being listed in the OpenAPI document."""

    cache_control = DEFAULT_CACHE_CONTROL

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.PARTIAL and (
            scope["method"] == "OPTIONS"
            or (scope["method"] == "HEAD" and "GET" in (self.methods or ()))
        ):
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        own = self.methods or set()
        if method == "OPTIONS" and "OPTIONS" not in own:
            allowed = ", ".join(sorted({*own, "OPTIONS", *(("HEAD",) if "GET" in own else ())}))
            await preflight(Request(scope), allowed)(scope, receive, send)
            return
        if method == "HEAD" and "GET" in own and "HEAD" not in own:
            # Answered as GET, headers and all (Content-Length included), without the body.
            async def headers_only(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            await super().handle({**scope, "method": "GET"}, receive, headers_only)
            return
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def public(request: Request) -> Response:
            return finish(request, await handler(request), self.cache_control)

        return public


def preflight(request: Request, methods: str) -> Response:
    """A CORS preflight's answer (or a plain OPTIONS's): any origin, no credentials."""
    asked = request.headers.get("access-control-request-headers", "")
    allowed = asked if _HEADER_NAMES.match(asked) and len(asked) < 500 else _ALLOWED_REQUEST_HEADERS
    return Response(
        status_code=204,
        headers={
            **_CORS,
            "Allow": methods,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": allowed,
            "Access-Control-Max-Age": "86400",
        },
    )


def finish(request: Request, response: Response, cache_control: str) -> Response:
    """Validators, caching headers, CORS and encoding for one public answer. Validators
    (ETag, 304) are for GET and HEAD: a POST answer is not cached nor revalidated by clients
    or caches, so hashing a 5 MB querybatch answer on every request would buy nothing."""
    response.headers.update(_CORS)
    body = getattr(response, "body", None)
    if response.status_code != 200 or not isinstance(body, bytes):
        response.headers.setdefault("Cache-Control", "no-store")
        return response
    compress = len(body) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("accept-encoding"))
    vary = ["Accept-Encoding"]
    if "authorization" in request.headers:
        # An answer to a request with credentials (a restricted CSAF folder, a TAXII collection
        # above TLP:CLEAR) is the caller's alone: `public` would let a shared cache keep it
        # (RFC 9111 §3.5) and serve it to the next client.
        cache_control = "private, no-store"
        vary.append("Authorization")
    response.headers["Vary"] = ", ".join(vary)
    if request.method == "GET":  # HEAD arrives here as GET (PublicRoute.handle)
        response.headers.setdefault("Cache-Control", cache_control)
        # A route that knows its representation's digest sets it (the CSAF directory: the
        # file's SHA-256, as in its `.sha256`); otherwise the body's.
        own = response.headers.get("etag", "").strip('"')
        digest = own or hashlib.sha256(body).hexdigest()[:40]
        # A strong ETag names one representation: the gzip one differs from the identity one.
        response.headers["ETag"] = f'"{digest}-gz"' if compress else f'"{digest}"'
        if _not_modified(request, digest, response):
            keep = ("etag", "cache-control", "last-modified", "vary")
            headers = {k: v for k, v in response.headers.items() if k in keep} | _CORS
            return Response(status_code=304, headers=headers)
    if compress:
        level = GZIP_LEVEL_LARGE if len(body) > LARGE_BYTES else GZIP_LEVEL
        body = gzip.compress(body, level, mtime=0)
        response.headers["Content-Encoding"] = "gzip"
    response.body = body
    response.headers["Content-Length"] = str(len(body))
    return response


def _not_modified(request: Request, digest: str, response: Response) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison, any of our two encodings), or, only
    when there is none, If-Modified-Since against Last-Modified."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        if inm.strip() == "*":
            return True
        for tag in inm.split(","):
            tag = tag.strip().removeprefix("W/").strip('"')
            if tag in (digest, f"{digest}-gz"):
                return True
        return False
    ims, lm = request.headers.get("if-modified-since"), response.headers.get("last-modified")
    if ims and lm:
        try:
            return parsedate_to_datetime(lm) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False  # an unparseable date is ignored, as the RFC asks
    return False


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header admits gzip (`gzip` or `*`, with a q above 0)."""
    if not header:
        return False
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in {"gzip", "*"}:
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False
