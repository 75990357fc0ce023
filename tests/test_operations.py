"""Health, readiness, metrics, request ids and structured logs."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.logging import JsonFormatter
from clearinghouse.storage import jobs
from tests.support.world import World


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_readiness_fails_when_the_database_is_gone(client: TestClient, world: World) -> None:
    from clearinghouse.storage.db import make_engine

    db = world.services.db
    unreachable = (
        "sqlite:////dev/null/not-a-directory/x.db"
        if db.dialect == "sqlite"
        else db.engine.url.set(port=1).render_as_string(hide_password=False)
    )
    db.engine.dispose()
    db.engine = (
        make_engine(unreachable) if db.dialect == "postgresql" else _sqlite_engine(unreachable)
    )
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "not_ready"
    assert r.json()["checks"]["database"].startswith("error")


def _sqlite_engine(url: str):  # make_engine would create the directory; this one must not exist
    from sqlalchemy import create_engine

    return create_engine(url)


def test_unexpected_errors_are_problems_with_the_request_id(
    client: TestClient, world: World
) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/boom-test", boom)  # type: ignore[attr-defined]
    r = client.get("/boom-test", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert r.json()["request_id"] == "trace-500" and "a bug" not in r.text


def test_metrics_count_requests_and_queue(client: TestClient, world: World) -> None:
    with world.services.db.transaction() as s:
        jobs.enqueue(s, "reviews.lapse_windows", {})
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'clearinghouse_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "clearinghouse_http_request_duration_seconds_bucket" in text
    assert "clearinghouse_jobs_queue_depth 1.0" in text
    assert "clearinghouse_jobs_oldest_queued_age_seconds" in text


def test_request_ids_are_echoed_or_made(client: TestClient, world: World) -> None:
    m = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    r = client.get("/api/v1/orgs/org_missing", headers={**m.headers, "X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123" and r.json()["request_id"] == "abc-123"
    made = client.get("/healthz").headers["x-request-id"]
    assert made.startswith("req_")
    weird = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers[
        "x-request-id"
    ]
    assert weird.startswith("req_")


def test_request_log_lines_are_json_with_ids(client: TestClient, world: World, caplog) -> None:
    m = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    with caplog.at_level(logging.INFO, logger="clearinghouse.api"):
        client.get("/api/v1/orgs", headers={**m.headers, "X-Request-ID": "log-test-1"})
    lines = [
        json.loads(JsonFormatter().format(r))
        for r in caplog.records
        if r.name == "clearinghouse.api"
    ]
    line = next(x for x in lines if x.get("request_id") == "log-test-1")
    assert line["route"] == "/api/v1/orgs" and line["status"] == 200 and line["org_id"] == m.org_id
    assert m.token not in json.dumps(lines)


def test_openapi_declares_bearer_auth_and_problem_codes(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    submission = spec["components"]["schemas"]["SubmissionCreate"]["properties"]["api_key"]
    assert any(v.get("writeOnly") for v in submission.get("anyOf", [submission]))
