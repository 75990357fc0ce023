"""End-to-end journeys in headless Chromium against the real server: a lab submits a model
and sees its countdown; an evaluator starts a run, follows it and opens (and delivers) the
report; outsiders (another lab, a vendor, nobody) are refused on each of those pages; a form
posted without its CSRF token is rejected. axe-core checks every page visited (serious and
critical violations fail); screenshots of the main pages are saved as test artifacts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.workers.runner import Worker
from tests.support.fake_chat import chat_server
from tests.support.openai_stub import openai_endpoint
from tests.support.world import Member, World
from tests.web.conftest import Pages

pytestmark = pytest.mark.slow
KEY = "sk-lab-browser-key-0123456789"
MARKER = "frontier-secret-9c1e"


@dataclass
class Review:
    coordinator: Member
    lab: Member
    evaluator: Member
    lab_org: str
    evaluator_org: str
    agreement_id: str


def _review(client: TestClient, world: World) -> Review:
    lab_org, ev_org = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    agr = client.post(
        "/api/v1/agreements",
        headers=coord.headers,
        json={
            "lab_org_id": lab_org,
            "scope": "cyber capabilities",
            "confidentiality_terms": "TLP:AMBER+STRICT",
            "retention_days": 90,
        },
    )
    assert agr.status_code == 201, agr.text
    return Review(
        coord,
        world.member(lab_org, OrgKind.lab, Role.member),
        world.member(ev_org, OrgKind.evaluator, Role.member),
        lab_org,
        ev_org,
        agr.json()["id"],
    )


def _submit_by_api(client: TestClient, r: Review, endpoint: str) -> str:
    sub = client.post(
        "/api/v1/submissions",
        headers=r.lab.headers,
        json={
            "agreement_id": r.agreement_id,
            "model_name": MARKER,
            "model_version": "2.0",
            "planned_release_at": (utcnow() + timedelta(days=60)).isoformat(),
            "endpoint_url": endpoint,
            "api_key": KEY,
            "evaluator_org_id": r.evaluator_org,
        },
    )
    assert sub.status_code == 201, sub.text
    ok = client.post(f"/api/v1/submissions/{sub.json()['id']}/verify-access", headers=r.lab.headers)
    assert ok.status_code == 200, ok.text
    return str(sub.json()["id"])


def test_a_lab_submits_a_model_and_sees_its_countdown(
    client: TestClient, services: Services, world: World, pages: Callable[[], Pages]
) -> None:
    r = _review(client, world)
    ui = pages()
    ui.goto("/")
    ui.shot("front-page")
    ui.sign_in(services, r.lab)
    ui.shot("dashboard-lab-empty")
    ui.goto("/lab/agreements")
    ui.goto("/lab/submissions/new")
    page = ui.page
    with openai_endpoint(KEY) as (base, seen):
        page.get_by_label("Model name").fill(MARKER)
        page.get_by_label("Model version").fill("2.0")
        page.get_by_label("Planned release date").fill(
            (utcnow() + timedelta(days=60)).date().isoformat()
        )
        page.get_by_label("Endpoint (OpenAI-compatible base URL)").fill(base)
        page.get_by_label("API key").fill(KEY)
        page.get_by_label("Evaluator organisation id").fill(r.evaluator_org)
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url("**/lab/submissions/sub_*")
        ui.check()
        assert "Verify access to open the review window" in page.content()
        page.get_by_role("button", name="Verify access and open the window").click()
        page.wait_for_selector("time[data-countdown]")
        ui.check()
        assert seen == [f"Bearer {KEY}"]  # the server probed the endpoint with the key
    countdown = page.locator("time[data-countdown]")
    first = countdown.inner_text()
    page.wait_for_timeout(1500)
    assert countdown.inner_text() != first  # the script counts down, second by second
    assert "d " in first and "access verified" in page.content()
    assert KEY not in page.content()
    ui.shot("lab-submission-countdown")
    ui.goto("/lab/submissions")
    assert MARKER in page.content()
    ui.shot("lab-submissions")
    ui.goto("/dashboard")
    assert MARKER in page.content() and "window ends" in page.content()


def test_an_evaluator_starts_a_run_follows_it_and_opens_the_report(
    client: TestClient, services: Services, world: World, pages: Callable[[], Pages]
) -> None:
    r = _review(client, world)
    with chat_server("The answer is A.") as chat:
        sid = _submit_by_api(client, r, chat.base_url)
        ui = pages()
        ui.sign_in(services, r.evaluator)
        ui.goto("/evaluator/submissions")
        page = ui.page
        page.get_by_role("link", name="Start a run").click()
        page.wait_for_url("**/evaluator/runs?submission=*")
        ui.check()
        for box in page.locator("input[name=tasks]").all():
            box.set_checked(box.get_attribute("value") == "knowledge_original")
        page.get_by_label("Samples per task").fill("2")
        page.get_by_role("button", name="Start the run").click()
        page.wait_for_url("**/evaluator/runs/run_*")
        ui.check()
        assert page.locator("[data-refresh]").count() == 1  # follows the run while it runs
        assert "queued" in page.content()
        ui.shot("evaluator-run-queued")
        assert _work_once(services)  # a worker takes the run (the test's own, in a thread)
    page.reload()
    page.wait_for_selector("#scores")
    ui.check()
    content = page.content()
    assert "succeeded" in content and page.locator("[data-refresh]").count() == 0
    assert page.locator("figure.chart svg title").count() == 1  # the chart, with its title
    assert "Risk tier" in content
    ui.shot("evaluator-run")
    page.get_by_role("link", name="Preview and deliver report 1").click()
    page.wait_for_url("**/reports/*/1")
    ui.check()
    frame = page.frame_locator("iframe.report")
    frame.locator("body").wait_for()
    assert MARKER in frame.locator("body").inner_text()
    ui.shot("report-preview")
    moved = client.post(
        f"/api/v1/submissions/{sid}/transition",
        headers=r.evaluator.headers,
        json={"to": "findings_drafted", "reason": "battery done"},
    )
    assert moved.status_code == 200, moved.text
    page.reload()
    page.get_by_role("button", name="Deliver this report to the lab").click()
    page.wait_for_selector("text=The report is delivered to the lab.")
    ui.check()
    reports = client.get(f"/api/v1/submissions/{sid}/reports", headers=r.lab.headers).json()
    assert reports[0]["receipt"]["delivered_by_user_id"] == r.evaluator.user_id


def _work_once(services: Services) -> bool:
    """One worker step in a thread of its own: Playwright's sync API holds this thread's event
    loop, and the run's Inspect evaluation needs one of its own."""
    done: list[bool] = []
    thread = threading.Thread(target=lambda: done.append(Worker(services).run_once()))
    thread.start()
    thread.join(timeout=600)
    return done == [True]


def _outsider_urls(client: TestClient, r: Review, sid: str) -> list[str]:
    run = client.post(
        "/api/v1/evals/runs",
        headers=r.evaluator.headers,
        json={"submission_id": sid, "tasks": ["knowledge_original"], "limit": 1},
    )
    assert run.status_code == 202, run.text
    client.post(
        f"/api/v1/submissions/{sid}/transition",
        headers=r.evaluator.headers,
        json={"to": "testing", "reason": "started"},
    )
    rep = client.post(
        f"/api/v1/submissions/{sid}/reports",
        headers=r.evaluator.headers,
        json={"title": f"On {MARKER}", "media_type": "text/html", "content": f"<p>{MARKER}</p>"},
    )
    assert rep.status_code == 201, rep.text
    return [
        f"/lab/submissions/{sid}",
        f"/evaluator/runs/{run.json()['id']}",
        f"/reports/{sid}/1",
        f"/reports/{sid}/1/content",
    ]


@pytest.mark.parametrize("outsider", ["another lab", "a vendor", "nobody"])
def test_an_outsider_is_refused_on_each_page(
    client: TestClient,
    services: Services,
    world: World,
    pages: Callable[[], Pages],
    outsider: str,
) -> None:
    r = _review(client, world)
    with openai_endpoint(KEY) as (base, _):
        sid = _submit_by_api(client, r, base)
    urls = _outsider_urls(client, r, sid)
    ui = pages()
    if outsider != "nobody":
        kind = OrgKind.lab if outsider == "another lab" else OrgKind.vendor
        ui.sign_in(services, world.member(world.org(kind), kind, Role.admin))
    for url in [*urls, "/lab/submissions", "/evaluator/runs", "/dashboard"]:
        response: Any = ui.page.goto(ui.base + url)
        if outsider == "nobody":
            assert "/sign-in?next=" in ui.page.url, url
        elif url in urls:
            assert response.status == 404, (outsider, url, response.status)
        if not url.endswith("/content"):
            ui.check()
        assert MARKER not in ui.page.content(), (outsider, url)
        assert sid not in ui.page.content() or url in urls, (outsider, url)


def test_a_form_posted_without_its_csrf_token_is_rejected(
    client: TestClient, services: Services, world: World, pages: Callable[[], Pages]
) -> None:
    r = _review(client, world)
    ui = pages()
    ui.sign_in(services, r.lab)
    ui.goto("/lab/submissions/new")
    page = ui.page
    page.evaluate("document.querySelector('main input[name=csrf_token]').remove()")
    for label, value in (
        ("Model name", MARKER),
        ("Model version", "1"),
        ("Endpoint (OpenAI-compatible base URL)", "http://127.0.0.1:9/v1"),
        ("API key", KEY),
        ("Evaluator organisation id", r.evaluator_org),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_label("Planned release date").fill("2030-01-01")
    with page.expect_response("**/lab/submissions") as posted:
        page.get_by_role("button", name="Submit").click()
    assert posted.value.status == 403
    assert "Form expired or forged" in page.content()
    ui.check()
    subs = client.get("/api/v1/submissions", headers=r.lab.headers).json()["items"]
    assert subs == []  # nothing was created
    ui.goto("/advisories")
    ui.shot("advisories")
