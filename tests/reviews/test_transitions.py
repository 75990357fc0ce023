"""Transitions, verify-access above all: a lab endpoint that answers opens the review window
(shortened by an early release); a wrong key or an unreachable endpoint leaves it closed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.tokens import authenticate
from clearinghouse.core.errors import IllegalTransition
from clearinghouse.reviews.agreements import withdraw_agreement
from clearinghouse.reviews.errors import AccessVerificationFailed
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.schemas import SubmissionOut
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.reviews.transitions import verify_access
from tests.support.openai_stub import openai_endpoint
from tests.support.prober import MemoryModelProber
from tests.support.review import KEY, open_review
from tests.support.world import Member, World


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


def _verify(world: World, member: Member, sid: str, prober: MemoryModelProber) -> SubmissionOut:
    services = world.services
    with services.db.transaction() as s:
        p = authenticate(s, member.token)
    return verify_access(services.db, p, services.vault, services.settings, sid, prober=prober)


def _review(world: World) -> tuple[Member, Member, str]:
    lab, ev = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    lab_admin = world.member(lab, OrgKind.lab, Role.admin)
    agreement = world.agreement(lab)
    sid = world.submission(agreement, lab_m, ev, api_key=KEY, release_in=timedelta(days=10))
    return lab_m, lab_admin, sid


def test_the_probe_answer_opens_the_window(world: World) -> None:
    """The models the probe reports are what verify-access records, and its success alone moves
    the submission to access_verified with the window open (the release in 10 days shortens
    it). The endpoint was never contacted: the prober is the only way out."""
    lab_m, _, sid = _review(world)
    prober = MemoryModelProber(models=["frontier-x", "frontier-x-mini"])
    out = _verify(world, lab_m, sid, prober)
    assert prober.seen == [("http://127.0.0.1:9/v1", KEY)]
    assert out.state is SubmissionState.access_verified
    assert out.access.models == ["frontier-x", "frontier-x-mini"]
    assert out.window_opened_at is not None and out.window_shortened is True
    assert out.deadline == out.planned_release_at


def test_a_failed_probe_changes_nothing(world: World) -> None:
    lab_m, _, sid = _review(world)
    refused = AccessVerificationFailed("refused the API key", code="endpoint_rejected_key")
    with pytest.raises(AccessVerificationFailed):
        _verify(world, lab_m, sid, MemoryModelProber(error=refused))
    with world.services.db.transaction() as s:
        sub = s.get(Submission, sid)
        assert sub is not None
        assert (sub.state, sub.window_opened_at, sub.access_verified_at) == (
            "submitted",
            None,
            None,
        )


def test_a_withdrawal_during_the_probe_keeps_the_window_closed(world: World) -> None:
    """The probe runs with no transaction open; the lab withdraws its agreement meanwhile (the
    key is destroyed). The answer, though positive, must not reopen the ended review: the last
    transaction re-checks the state."""
    lab_m, lab_admin, sid = _review(world)
    services = world.services

    def withdraw() -> None:
        with services.db.transaction() as s:
            sub = s.get(Submission, sid)
            assert sub is not None
            withdraw_agreement(
                s, authenticate(s, lab_admin.token), services.vault, sub.agreement_id, "pulled"
            )

    with pytest.raises(IllegalTransition):
        _verify(world, lab_m, sid, MemoryModelProber(models=["frontier-x"], during=withdraw))
    with services.db.transaction() as s:
        sub = s.get(Submission, sid)
        assert sub is not None
        assert (sub.state, sub.window_opened_at, sub.access_models) == ("withdrawn", None, [])
        assert sub.api_key_sealed_id is None
