"""The FastAPI application factory (the API's composition root)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import clearinghouse
from clearinghouse.api import problems
from clearinghouse.api.metrics import Metrics
from clearinghouse.api.routes import accounts, evals, ops, osv, reviews, vulns
from clearinghouse.container import Services, build_services
from clearinghouse.core.ids import new_id
from clearinghouse.core.logging import request_id_var
from clearinghouse.storage import migrate

log = logging.getLogger("clearinghouse.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")


_limiters: dict[int, anyio.CapacityLimiter] = {}


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
    problems.install(app)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if _REQUEST_ID.match(incoming) else new_id("req")
        token = request_id_var.set(rid)
        started = time.perf_counter()
        # On an unhandled exception the id stays set: the 500 handler runs outside this
        # middleware and puts it in the problem body. The next request sets its own.
        async with _admission(services):
            response = await call_next(request)
        request_id_var.reset(token)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(elapsed)
        response.headers["X-Request-ID"] = rid
        principal = getattr(request.state, "principal", None)
        log.info(
            "request",
            extra={
                "request_id": rid,
                "method": request.method,
                "route": template,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "org_id": getattr(principal, "org_id", None),
                "user_id": getattr(principal, "user_id", None),
            },
        )
        return response

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

    app.include_router(accounts.router)
    app.include_router(reviews.router)
    app.include_router(evals.router)
    app.include_router(ops.router)
    app.include_router(vulns.router)
    app.include_router(osv.router)
    return app
