"""The FastAPI application factory (the API's composition root)."""

from __future__ import annotations

import logging
import re
import time

import anyio
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import clearinghouse
from clearinghouse.api import problems
from clearinghouse.api.metrics import Metrics
from clearinghouse.container import DOMAINS, Services, build_services, load
from clearinghouse.core.ids import new_id
from clearinghouse.core.logging import request_id_var
from clearinghouse.storage import migrate

log = logging.getLogger("clearinghouse.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")


_limiters: dict[int, anyio.CapacityLimiter] = {}
# The web shell's error page for a browser (loaded by name, as its page routers are: the web
# shell builds on the API's, never the other way).
BROWSER_ERROR_PAGE = "clearinghouse.web.routing:browser_error_page"


def _admission(services: Services) -> anyio.CapacityLimiter:
    """Admission control: at most half the connection pool's capacity in requests at once
    (a request may hold two connections: its principal's lookup and its transaction). The
    others wait here, on the event loop, holding no thread. Without it, requests waiting for a
    pooled connection fill the threadpool, and the requests that hold connections can then get
    no thread to finish on: the server stalls under load."""
    limiter = _limiters.get(id(services))
    if limiter is None:
        limiter = _limiters[id(services)] = anyio.CapacityLimiter(max(1, services.db.capacity // 2))
    return limiter


class Observe:
    """Request ids, admission control, metrics and the access log, as a pure ASGI middleware
    (Starlette's `BaseHTTPMiddleware` costs a task group and a body stream per request, a
    measurable share of a public OSV query)."""

    def __init__(self, app: ASGIApp, services: Services, metrics: Metrics) -> None:
        self.app, self.services, self.metrics = app, services, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if _REQUEST_ID.match(incoming) else new_id("req")
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        # On an unhandled exception the id stays set: the 500 handler runs outside this
        # middleware and puts it in the problem body. The next request sets its own.
        async with _admission(self.services):
            await self.app(scope, receive, send_with_id)
        request_id_var.reset(token)
        elapsed = time.perf_counter() - started
        template = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(elapsed)
        principal = scope.get("state", {}).get("principal")
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "org_id": getattr(principal, "org_id", None),
                    "user_id": getattr(principal, "user_id", None),
                },
            )


def create_app(services: Services | None = None) -> FastAPI:
    services = services or build_services()
    app = FastAPI(
        title="AI Cyber Clearinghouse",
        version=clearinghouse.__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        description="Pre-release model review, cyber-capability evaluation and vulnerability coordination.",
    )
    app.state.services = services
    metrics = Metrics(services.db)
    problems.install(app, page=load(BROWSER_ERROR_PAGE))

    app.add_middleware(Observe, services=services, metrics=metrics)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready"}})
    def readyz() -> JSONResponse:
        """Readiness: the database answers and its schema is at the head migration."""
        checks: dict[str, str] = {}
        try:
            services.db.ping()
            current, head = migrate.current(services.db), migrate.head(services.db)
            checks["database"] = "ok"
            checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Every domain's routers (container.DOMAINS); the hottest, the public OSV queries, first.
    for ref in (
        *(ref for domain in DOMAINS for ref in domain.first_routes),
        *(ref for domain in DOMAINS for ref in domain.routes),
    ):
        router = load(ref)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{ref} is not an APIRouter")
        app.include_router(router)
    # Every domain's web pages (docs/web.md): HTML, kept out of the OpenAPI document.
    for ref in (ref for domain in DOMAINS for ref in domain.pages):
        router = load(ref)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{ref} is not an APIRouter")
        app.include_router(router, include_in_schema=False)
    return app
