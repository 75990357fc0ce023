"""A submission's life through the HTTP API, from submitted to closed, with every change and
confidential read in the audit chain; and no state that means a release is approved."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.openai_stub import openai_endpoint
from tests.support.review import KEY, open_review
from tests.support.world import World


def test_full_review_lifecycle(world: World, client: TestClient) -> None:
    with openai_endpoint(KEY) as (endpoint, seen):
        coord, lab_m, _, ev_m, _, sub = open_review(world, client, endpoint)
        assert sub["state"] == "submitted"
        assert sub["deadline"] is None and sub["window_opened_at"] is None
        assert sub["access"]["api_key_hint"] == "…6789"
        assert KEY not in str(sub)

        r = client.post(f"/api/v1/submissions/{sub['id']}/verify-access", headers=ev_m.headers)
        assert r.status_code == 200, r.text
        assert seen == [f"Bearer {KEY}"]
    body = r.json()
    assert body["state"] == "access_verified"
    assert body["access"]["models"] == ["frontier-x"]
    opened = datetime.fromisoformat(body["window_opened_at"])
    deadline = datetime.fromisoformat(body["deadline"])
    assert opened.tzinfo is not None and deadline.tzinfo is not None
    assert body["deadline"].endswith("Z")
    assert deadline - opened == timedelta(days=30)
    assert body["window_shortened"] is False

    sid = sub["id"]
    assert (
        client.post(
            f"/api/v1/submissions/{sid}/transition", headers=ev_m.headers, json={"to": "testing"}
        ).json()["state"]
        == "testing"
    )
    f = client.post(
        f"/api/v1/submissions/{sid}/findings",
        headers=ev_m.headers,
        json={"title": "Solves 7/12 CTFs", "severity": "high", "body": "details of the uplift"},
    )
    assert f.status_code == 201, f.text
    client.post(
        f"/api/v1/submissions/{sid}/transition",
        headers=ev_m.headers,
        json={"to": "findings_drafted"},
    )
    html = "<html><body><h1>Review</h1></body></html>"
    rep = client.post(
        f"/api/v1/submissions/{sid}/reports",
        headers=ev_m.headers,
        json={"title": "Pre-release review", "media_type": "text/html", "content": html},
    )
    assert rep.status_code == 201, rep.text
    assert rep.json()["version"] == 1 and rep.json()["receipt"] is None
    rep2 = client.post(
        f"/api/v1/submissions/{sid}/reports",
        headers=ev_m.headers,
        json={
            "title": "v2",
            "media_type": "text/html",
            "encoding": "base64",
            "content": base64.b64encode(b"<html>v2</html>").decode(),
        },
    )
    assert rep2.json()["version"] == 2

    d = client.post(f"/api/v1/submissions/{sid}/reports/2/deliver", headers=ev_m.headers)
    assert d.status_code == 200, d.text
    receipt = d.json()["receipt"]
    assert receipt["sha256"] == rep2.json()["sha256"] and receipt["acknowledged_at"] is None
    got = client.get(f"/api/v1/submissions/{sid}/reports/2/content", headers=lab_m.headers)
    assert got.status_code == 200 and got.content == b"<html>v2</html>"
    ack = client.post(f"/api/v1/submissions/{sid}/reports/2/acknowledge", headers=lab_m.headers)
    assert ack.json()["receipt"]["acknowledged_by_user_id"] == lab_m.user_id

    assert (
        client.get(f"/api/v1/submissions/{sid}", headers=lab_m.headers).json()["state"]
        == "report_delivered"
    )
    lab_findings = client.get(f"/api/v1/submissions/{sid}/findings", headers=lab_m.headers).json()
    assert [x["body"] for x in lab_findings] == ["details of the uplift"]
    # The coordinator administers the program but does not read the lab's findings.
    assert (
        client.get(f"/api/v1/submissions/{sid}/findings", headers=coord.headers).status_code == 403
    )

    closed = client.post(
        f"/api/v1/submissions/{sid}/transition", headers=lab_m.headers, json={"to": "closed"}
    )
    assert closed.json()["state"] == "closed"
    assert (
        closed.json()["access"]["api_key_available"] is False
    )  # the key is destroyed when the review ends
    timeline = client.get(f"/api/v1/submissions/{sid}/timeline", headers=lab_m.headers).json()
    assert [t["to_state"] for t in timeline] == [
        "submitted",
        "access_verified",
        "testing",
        "findings_drafted",
        "report_delivered",
        "closed",
    ]
    # Every change and confidential read is in the audit chain, and the chain holds.
    tags = [
        e["tag"] for e in client.get("/api/v1/audit/events?limit=500", headers=coord.headers).json()
    ]
    for tag in (
        "reviews:submission-secret:reveal",
        "reviews:window:open",
        "reviews:finding:read",
        "reviews:report:read",
        "reviews:report:deliver",
        "reviews:submission-secret:destroy",
    ):
        assert tag in tags
    verified = client.get("/api/v1/audit/verify", headers=coord.headers).json()
    assert {k: verified[k] for k in ("ok", "events", "first_bad")} == {
        "ok": True,
        "events": len(tags),
        "first_bad": None,
    }


def test_nothing_approves_or_clears_a_release(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    text = str(spec).lower()
    for word in ("approve", "approved", "clearance", "cleared", "preclear"):
        assert word not in text
    states = spec["components"]["schemas"]["SubmissionState"]["enum"]
    assert states == [
        "submitted",
        "access_verified",
        "testing",
        "findings_drafted",
        "report_delivered",
        "closed",
        "lapsed",
        "withdrawn",
    ]
