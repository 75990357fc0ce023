"""A review set up over HTTP: a lab, an evaluator, a coordinator-made agreement and a
submission with an endpoint and key, by the real routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.clock import utcnow
from tests.support.world import Member, World

KEY = "sk-lab-secret-key-0123456789"


def open_review(
    world: World, client: TestClient, endpoint: str, release_in: timedelta = timedelta(days=60)
) -> tuple[Member, Member, Member, Member, dict[str, Any], dict[str, Any]]:
    """Returns (coordinator admin, lab member, lab admin, evaluator member, agreement,
    submission), the last two as the API answered them."""
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    lab_admin = world.member(lab, OrgKind.lab, Role.admin)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    agr = client.post(
        "/api/v1/agreements",
        headers=coord.headers,
        json={
            "lab_org_id": lab,
            "scope": "cyber offence and defence",
            "confidentiality_terms": "no sharing",
            "retention_days": 90,
        },
    )
    assert agr.status_code == 201, agr.text
    release = (utcnow() + release_in).isoformat()
    sub = client.post(
        "/api/v1/submissions",
        headers=lab_m.headers,
        json={
            "agreement_id": agr.json()["id"],
            "model_name": "frontier-x",
            "model_version": "2.0",
            "planned_release_at": release,
            "endpoint_url": endpoint,
            "api_key": KEY,
            "evaluator_org_id": ev,
        },
    )
    assert sub.status_code == 201, sub.text
    return coord, lab_m, lab_admin, ev_m, agr.json(), sub.json()
