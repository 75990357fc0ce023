"""Per page and per role, a page shows exactly what the API would: the same 200-or-404 answer
as the API route it mirrors, and on a refusal none of the data (another lab's model name, a
submission id, a run id). Anonymous visitors are sent to sign-in. The adversaries: another
lab, an unassigned evaluator, a vendor, a lab viewing its evaluator's run, and nobody."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.reviews.models import Submission
from tests.support.openai_stub import openai_endpoint
from tests.support.web import signed_in_client
from tests.support.world import Member, World

KEY = "sk-lab-key-for-the-page-tests-0123"
MARKER = "secret-model-7f3a"


@dataclass
class Scene:
    lab: Member
    other_lab: Member
    evaluator: Member
    other_evaluator: Member
    vendor: Member
    coordinator: Member
    submission_id: str
    run_id: str


@pytest.fixture
def scene(client: TestClient, world: World) -> Iterator[Scene]:
    lab_org, ev_org = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    lab = world.member(lab_org, OrgKind.lab, Role.member)
    ev = world.member(ev_org, OrgKind.evaluator, Role.member)
    agr = client.post(
        "/api/v1/agreements",
        headers=coord.headers,
        json={
            "lab_org_id": lab_org,
            "scope": "cyber",
            "confidentiality_terms": "no sharing",
            "retention_days": 90,
        },
    ).json()
    with openai_endpoint(KEY) as (base, _):
        sub = client.post(
            "/api/v1/submissions",
            headers=lab.headers,
            json={
                "agreement_id": agr["id"],
                "model_name": MARKER,
                "model_version": "1.0",
                "planned_release_at": (utcnow() + timedelta(days=60)).isoformat(),
                "endpoint_url": base,
                "api_key": KEY,
                "evaluator_org_id": ev_org,
            },
        ).json()
        verified = client.post(
            f"/api/v1/submissions/{sub['id']}/verify-access", headers=lab.headers
        )
        assert verified.status_code == 200, verified.text
    run = client.post(
        "/api/v1/evals/runs",
        headers=ev.headers,
        json={"submission_id": sub["id"], "tasks": ["knowledge_original"], "limit": 1},
    )
    assert run.status_code == 202, run.text
    testing = client.post(
        f"/api/v1/submissions/{sub['id']}/transition",
        headers=ev.headers,
        json={"to": "testing", "reason": "battery started"},
    )
    assert testing.status_code == 200, testing.text
    report = client.post(
        f"/api/v1/submissions/{sub['id']}/reports",
        headers=ev.headers,
        json={
            "title": f"Report on {MARKER}",
            "media_type": "text/html",
            "content": f"<p>{MARKER}</p>",
        },
    )
    assert report.status_code == 201, report.text
    yield Scene(
        lab=lab,
        other_lab=world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin),
        evaluator=ev,
        other_evaluator=world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.admin),
        vendor=world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.admin),
        coordinator=coord,
        submission_id=sub["id"],
        run_id=run.json()["id"],
    )


ROLES = ["lab", "other_lab", "evaluator", "other_evaluator", "vendor", "coordinator"]


def _pairs(scene: Scene) -> list[tuple[str, str]]:
    """(page, the API route whose answer it must match)."""
    sid, rid = scene.submission_id, scene.run_id
    return [
        (f"/lab/submissions/{sid}", f"/api/v1/submissions/{sid}"),
        (f"/evaluator/runs/{rid}", f"/api/v1/evals/runs/{rid}"),
        (f"/reports/{sid}/1", f"/api/v1/submissions/{sid}/reports/1"),
        (f"/reports/{sid}/1/content", f"/api/v1/submissions/{sid}/reports/1/content"),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_page_answers_as_the_api_does_and_a_refusal_shows_nothing(
    client: TestClient, services: Services, scene: Scene, role: str
) -> None:
    member: Member = getattr(scene, role)
    browser = signed_in_client(services, member)
    try:
        for page, api in _pairs(scene):
            expected = client.get(api, headers=member.headers).status_code
            got = browser.get(page, follow_redirects=False)
            assert got.status_code == expected, (role, page, expected)
            if expected != 200:
                assert got.status_code in {403, 404}
                # (the id the visitor typed may be echoed, as the API's 404 does; nothing else)
                assert MARKER not in got.text, (role, page)
        # the lists: what the API lists, the page lists; nothing more
        api_subs = client.get("/api/v1/submissions", headers=member.headers).json()["items"]
        api_runs = client.get("/api/v1/evals/runs", headers=member.headers).json()["items"]
        for page in ("/lab/submissions", "/evaluator/submissions", "/dashboard"):
            html = browser.get(page).text
            assert (scene.submission_id in html) == any(
                s["id"] == scene.submission_id for s in api_subs
            ) or page == "/dashboard", (role, page)
            if not api_subs:
                assert MARKER not in html and scene.submission_id not in html, (role, page)
        html = browser.get("/evaluator/runs").text
        assert (scene.run_id in html) == any(r["id"] == scene.run_id for r in api_runs), role
    finally:
        browser.__exit__(None, None, None)


def test_the_lab_sees_its_countdown_and_timeline_and_an_outsider_does_not(
    services: Services, scene: Scene
) -> None:
    lab = signed_in_client(services, scene.lab)
    try:
        html = lab.get(f"/lab/submissions/{scene.submission_id}").text
        assert "data-countdown=" in html and "Time left in the review window" in html
        assert "access verified" in html  # the timeline's step
        assert KEY not in html and KEY[-4:] in html  # the key's hint only
    finally:
        lab.__exit__(None, None, None)


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard",
        "/lab/agreements",
        "/lab/submissions",
        "/lab/submissions/new",
        "/evaluator/runs",
        "/evaluator/submissions",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=")


def test_anonymous_visitors_of_a_private_object_learn_nothing(
    client: TestClient, scene: Scene
) -> None:
    for page, _ in _pairs(scene):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and MARKER not in r.text


def test_the_report_preview_is_sandboxed(services: Services, scene: Scene) -> None:
    ev = signed_in_client(services, scene.evaluator)
    try:
        page = ev.get(f"/reports/{scene.submission_id}/1")
        assert "<iframe" in page.text and " sandbox" in page.text
        content = ev.get(f"/reports/{scene.submission_id}/1/content")
        assert content.status_code == 200
        csp = content.headers["content-security-policy"]
        assert csp.startswith("sandbox") and "default-src 'none'" in csp
        assert "script-src" not in csp
    finally:
        ev.__exit__(None, None, None)


def test_the_dashboard_shows_what_is_overdue_to_the_lab_and_its_evaluator(
    services: Services, scene: Scene
) -> None:
    with services.db.transaction() as s:
        s.execute(
            update(Submission)
            .where(Submission.id == scene.submission_id)
            .values(deadline=utcnow() - timedelta(hours=1))
        )
    for member in (scene.lab, scene.evaluator):
        browser = signed_in_client(services, member)
        try:
            html = browser.get("/dashboard").text
            assert "1 overdue" in html and "overdue since" in html, member.kind
            assert MARKER in html
        finally:
            browser.__exit__(None, None, None)
    outsider = signed_in_client(services, scene.other_evaluator)
    try:
        html = outsider.get("/dashboard").text
        assert "overdue" not in html and MARKER not in html
    finally:
        outsider.__exit__(None, None, None)
