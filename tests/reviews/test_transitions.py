"""Transitions, verify-access above all: a lab endpoint that answers opens the review window
(shortened by an early release); a wrong key or an unreachable endpoint leaves it closed."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.openai_stub import openai_endpoint
from tests.support.review import KEY, open_review
from tests.support.world import World


def test_early_release_shortens_the_window(world: World, client: TestClient) -> None:
    with openai_endpoint(KEY) as (endpoint, _):
        _, _, _, ev_m, _, sub = open_review(world, client, endpoint, release_in=timedelta(days=10))
        body = client.post(
            f"/api/v1/submissions/{sub['id']}/verify-access", headers=ev_m.headers
        ).json()
    assert body["window_shortened"] is True
    assert datetime.fromisoformat(body["deadline"]) == datetime.fromisoformat(
        sub["planned_release_at"]
    )


def test_wrong_key_leaves_the_window_closed(world: World, client: TestClient) -> None:
    with openai_endpoint("a-different-key-entirely") as (endpoint, _):
        _, lab_m, _, _, _, sub = open_review(world, client, endpoint)
        r = client.post(f"/api/v1/submissions/{sub['id']}/verify-access", headers=lab_m.headers)
    assert r.status_code == 502
    assert r.json()["code"] == "endpoint_rejected_key"
    assert KEY not in r.text
    again = client.get(f"/api/v1/submissions/{sub['id']}", headers=lab_m.headers).json()
    assert again["state"] == "submitted" and again["deadline"] is None


def test_unreachable_endpoint_is_a_clear_error(world: World, client: TestClient) -> None:
    _, lab_m, _, _, _, sub = open_review(world, client, "http://127.0.0.1:9/v1")
    r = client.post(f"/api/v1/submissions/{sub['id']}/verify-access", headers=lab_m.headers)
    assert r.status_code == 502 and r.json()["code"] == "endpoint_unreachable"
