"""Agreements: a lab's withdrawal ends its submissions, refuses new ones and destroys the keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.storage.vault import SealedValue
from tests.support.openai_stub import openai_endpoint
from tests.support.review import KEY, open_review
from tests.support.world import World


def test_withdrawal_blocks_submissions_and_destroys_keys(world: World, client: TestClient) -> None:
    with openai_endpoint(KEY) as (endpoint, _):
        _, lab_m, lab_admin, ev_m, agr, sub = open_review(world, client, endpoint)
        client.post(f"/api/v1/submissions/{sub['id']}/verify-access", headers=ev_m.headers)
    w = client.post(
        f"/api/v1/agreements/{agr['id']}/withdraw",
        headers=lab_admin.headers,
        json={"reason": "changed plans"},
    )
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    s = client.get(f"/api/v1/submissions/{sub['id']}", headers=lab_m.headers).json()
    assert s["state"] == "withdrawn" and s["access"]["api_key_available"] is False
    r = client.post(f"/api/v1/submissions/{sub['id']}/verify-access", headers=ev_m.headers)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    new = client.post(
        "/api/v1/submissions",
        headers=lab_m.headers,
        json={
            "agreement_id": agr["id"],
            "model_name": "m",
            "model_version": "1",
            "planned_release_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
            "weights_digest": "sha256:" + "a" * 64,
            "evaluator_org_id": sub["evaluator_org_id"],
        },
    )
    assert new.status_code == 409 and new.json()["code"] == "agreement_withdrawn"
    with world.services.db.transaction() as session:
        row = session.get(SealedValue, _sealed_id(world, sub["id"]))
        assert row is not None and row.ciphertext is None and row.wrapped_key is None


def _sealed_id(world: World, submission_id: str) -> str:
    with world.services.db.transaction() as session:
        return session.scalars(
            select(SealedValue.id).where(SealedValue.purpose == "submission:api_key")
        ).one()
