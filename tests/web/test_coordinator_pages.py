"""The coordinator's pages (issue 16): the triage queue, a report's signals and validations,
duplicate candidates side by side, and cases. Each page, per role, shows nothing the API would
not show that role, answers with the API's status, and refuses a form without its CSRF token."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.coordination import timeline
from clearinghouse.core.events import AuditTag
from tests.coordination.fix_kit import Cast
from tests.support.world import Member, World
from tests.web.pages_kit import (
    AMBER_MESSAGE,
    RED_MESSAGE,
    SECRETS,
    VENDOR_STATEMENT,
    Browser,
    Scene,
    build_case,
)


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


@pytest.fixture
def scene(client: TestClient, services: Services, cast: Cast) -> Scene:
    return build_case(client, services, cast)


def people(world: World, cast: Cast) -> dict[str, Member | None]:
    return {
        "coordinator": cast.coordinator,
        "reporter": cast.reporter,
        "vendor": cast.vendor,
        "other_vendor": cast.other_vendor,
        "operator_in_group": cast.operator,
        "operator_outside": world.member(world.org(OrgKind.operator), OrgKind.operator, Role.admin),
        "lab_outsider": world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin),
        "anonymous": None,
    }


def api_text(client: TestClient, who: Member, scene: Scene) -> tuple[str, dict[str, int]]:
    """Everything the API shows `who` about the case and its record, and its statuses."""
    paths = {
        "case": f"/api/v1/cases/{scene.case_id}",
        "messages": f"/api/v1/cases/{scene.case_id}/messages",
        "timeline": f"/api/v1/cases/{scene.case_id}/timeline",
        "fixes": f"/api/v1/cases/{scene.case_id}/fixes",
        "report": f"/api/v1/reports/{scene.report_id}",
        "vuln": f"/api/v1/vulns/{scene.vuln_id}",
        "queue": "/api/v1/triage/queue",
        "duplicates": "/api/v1/duplicates",
    }
    text, statuses = "", {}
    for name, path in paths.items():
        r = client.get(path, headers=who.headers)
        statuses[name] = r.status_code
        text += r.text
    return text, statuses


PAGES = {
    "case": "/cases/{case}",
    "timeline": "/cases/{case}/timeline",
    "report": "/triage/reports/{report}",
    "queue": "/triage",
    "duplicates": "/triage/duplicates",
}


def test_each_page_shows_each_role_nothing_the_api_would_not(
    client: TestClient, services: Services, world: World, cast: Cast, scene: Scene
) -> None:
    for role, who in people(world, cast).items():
        browser = Browser(client, services, who)
        seen = {}
        for name, template in PAGES.items():
            path = template.format(case=scene.case_id, report=scene.report_id)
            r = browser.get(path)
            seen[name] = r
            if who is None:
                assert r.status_code == 303, (role, path)
                assert r.headers["location"].startswith("/sign-in?next=")
                continue
            assert r.headers["content-type"].startswith("text/html"), (role, path)
        if who is None:
            continue
        allowed_text, statuses = api_text(client, who, scene)
        for name, r in seen.items():
            api_status = statuses["case" if name == "timeline" else name]
            assert r.status_code == api_status, (role, name, r.status_code, api_status)
            for secret in SECRETS:
                if secret in r.text:
                    assert secret in allowed_text, (role, name, secret)
    # and the API itself tells them apart as expected: a sanity check of the scene
    by_role = {
        role: Browser(client, services, who).get(f"/cases/{scene.case_id}")
        for role, who in people(world, cast).items()
        if who is not None
    }
    assert RED_MESSAGE in by_role["vendor"].text and RED_MESSAGE in by_role["coordinator"].text
    assert RED_MESSAGE not in by_role["reporter"].text
    assert (
        AMBER_MESSAGE in by_role["reporter"].text and VENDOR_STATEMENT in by_role["reporter"].text
    )
    early = by_role["operator_in_group"]
    assert early.status_code == 200 and "early warning" in early.text
    for secret in (AMBER_MESSAGE, RED_MESSAGE, VENDOR_STATEMENT):
        assert secret not in early.text
    for outsider in ("other_vendor", "operator_outside", "lab_outsider"):
        assert by_role[outsider].status_code == 404
        assert "tinyparse heap overflow" not in by_role[outsider].text


def test_the_triage_queue_is_the_apis_order_with_each_signal_and_its_evidence(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    browser = Browser(client, services, cast.coordinator)
    page = browser.get("/triage")
    assert page.status_code == 200
    api_order = [
        i["report_id"]
        for i in client.get("/api/v1/triage/queue", headers=cast.coordinator.headers).json()[
            "items"
        ]
    ]
    page_order = re.findall(r'href="/triage/reports/([^"]+)"', page.text)
    assert page_order == api_order and len(api_order) == 2
    report = browser.get(f"/triage/reports/{scene.report_id}")
    assert report.status_code == 200
    for signal in ("grounded", "has poc", "reproduced", "already fixed", "duplicate of", "SSVC"):
        assert f'<th scope="row">{signal}</th>' in report.text, signal
    assert "Validation results" in report.text and "Open a coordination case" in report.text


def test_duplicates_side_by_side_then_a_merge_and_a_reject(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    browser = Browser(client, services, cast.coordinator)
    page = browser.get("/triage/duplicates")
    assert page.status_code == 200
    assert scene.vuln_id in page.text and scene.dup_vuln_id in page.text
    assert "The two records side by side" in page.text
    merged = browser.post(
        "/triage/merges", {"vuln_ids": [scene.vuln_id, scene.dup_vuln_id], "note": "same bug"}
    )
    assert merged.status_code == 303, merged.text
    assert merged.headers["location"] == "/triage/duplicates?notice=merged"
    dup = client.get(f"/api/v1/vulns/{scene.dup_vuln_id}", headers=cast.coordinator.headers)
    vuln = client.get(f"/api/v1/vulns/{scene.vuln_id}", headers=cast.coordinator.headers)
    assert {dup.json()["duplicate_of"], vuln.json()["duplicate_of"]} - {None}
    # a second merge of the same records is the API's 409, as a page, not JSON
    again = browser.post("/triage/merges", {"vuln_ids": [scene.vuln_id, scene.dup_vuln_id]})
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")


def test_triage_form_moves_the_record_and_opening_a_case_from_it(
    client: TestClient, services: Services, cast: Cast
) -> None:
    from tests.web.pages_kit import submit_report

    report = submit_report(client, cast.reporter)
    browser = Browser(client, services, cast.coordinator)
    r = browser.post(
        f"/triage/reports/{report['id']}/triage",
        {"status": "triaged", "tlp": "AMBER+STRICT", "embargo_until": "2031-01-02T03:04"},
    )
    assert r.status_code == 303, r.text
    got = client.get(f"/api/v1/vulns/{report['vuln_id']}", headers=cast.coordinator.headers).json()
    assert got["status"] == "triaged" and got["tlp"] == "AMBER+STRICT"
    assert got["embargo_until"].startswith("2031-01-02T03:04")
    bad = browser.post(f"/triage/reports/{report['id']}/triage", {"status": "published"})
    assert bad.status_code == 409 and bad.headers["content-type"].startswith("text/html")
    opened = browser.post(
        "/cases", {"vuln_ids": report["vuln_id"], "title": "from the page", "tlp": "AMBER"}
    )
    assert opened.status_code == 303, opened.text
    case_path = opened.headers["location"].split("?")[0]
    page = browser.get(case_path)
    assert page.status_code == 200 and "from the page" in page.text
    listed = client.get("/api/v1/cases", headers=cast.coordinator.headers).json()["items"]
    assert [c["title"] for c in listed] == ["from the page"]


def test_a_form_without_its_csrf_token_changes_nothing(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    browser = Browser(client, services, cast.coordinator)
    other = Browser(client, services, cast.coordinator)  # another session of the same user
    before = client.get(
        f"/api/v1/cases/{scene.case_id}/messages", headers=cast.coordinator.headers
    ).json()["items"]
    path = f"/cases/{scene.case_id}/messages"
    for r in (
        browser.post_without_token(path, {"body": "forged"}),
        browser.http.post(path, data={"body": "forged", "csrf_token": other.csrf + "0"}),
        browser.http.post(path, data={"body": "forged", "csrf_token": "x" * 64}),
    ):
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    r = browser.http.post(path, data={"body": "forged", "csrf_token": other.csrf})
    assert r.status_code == 403  # another session's token is not this one's
    after = client.get(
        f"/api/v1/cases/{scene.case_id}/messages", headers=cast.coordinator.headers
    ).json()["items"]
    assert after == before
    ok = browser.post(path, {"body": "a real message", "tlp": "AMBER+STRICT"})
    assert ok.status_code == 303


def events(html: str) -> int:
    """How many timeline events a page lists."""
    listed = html.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    return listed.count("<li>")


def test_a_case_with_a_thousand_timeline_events_stays_paginated(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    with services.db.transaction() as s:
        for i in range(1000):
            timeline.record(
                s,
                Principal.system(),
                scene.case_id,
                "note",
                AuditTag.COORDINATION_CASE_TRANSITION,
                {"n": i},
                tlp="AMBER",
            )
    browser = Browser(client, services, cast.coordinator)
    page = browser.get(f"/cases/{scene.case_id}")
    assert page.status_code == 200
    timeline_html = page.text.split('id="timeline"', 1)[1]
    assert events(timeline_html) == 20 and "More events" in timeline_html
    first = browser.get(f"/cases/{scene.case_id}/timeline")
    assert events(first.text) == 50 and 'rel="next"' in first.text
    nxt = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert nxt
    second = browser.get(nxt.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and events(second.text) == 50
    assert "First page" in second.text


def test_coordinator_forms_deadline_participant_and_publication(
    client: TestClient, services: Services, world: World, cast: Cast, scene: Scene
) -> None:
    browser = Browser(client, services, cast.coordinator)
    page = browser.get(f"/cases/{scene.case_id}")
    assert "data-countdown=" in page.text and "Publish now" in page.text
    before = client.get(f"/api/v1/cases/{scene.case_id}", headers=cast.coordinator.headers).json()
    r = browser.post(f"/cases/{scene.case_id}/deadline", {"days": "10", "reason": "vendor asked"})
    assert r.status_code == 303, r.text
    after = client.get(f"/api/v1/cases/{scene.case_id}", headers=cast.coordinator.headers).json()
    assert (
        after["deadline_detail"]["adjusted_days"] == before["deadline_detail"]["adjusted_days"] + 10
    )
    assert browser.post(f"/cases/{scene.case_id}/deadline", {"days": "5"}).status_code == 422
    second_vendor = world.org(OrgKind.vendor)
    r = browser.post(
        f"/cases/{scene.case_id}/participants", {"org_id": second_vendor, "role": "vendor"}
    )
    assert r.status_code == 303
    # a vendor may not publish, and the page says so with the API's status
    vendor = Browser(client, services, cast.vendor)
    assert vendor.post(f"/cases/{scene.case_id}/publish", {"reason": "now"}).status_code == 403
    r = browser.post(f"/cases/{scene.case_id}/publish", {"reason": "exploited in the wild"})
    assert r.status_code == 303, r.text
    page = browser.get(f"/cases/{scene.case_id}")
    assert f'href="/v1/vulns/{scene.vuln_id}"' in page.text
    assert client.get(f"/v1/vulns/{scene.vuln_id}").status_code == 200  # public now


def test_dashboards_show_the_queue_and_the_cases(
    client: TestClient, services: Services, cast: Cast, scene: Scene
) -> None:
    coordinator = Browser(client, services, cast.coordinator).get("/dashboard")
    assert "Triage queue" in coordinator.text and "tinyparse heap overflow" in coordinator.text
    operator = Browser(client, services, cast.operator).get("/dashboard")
    assert "Triage queue" not in operator.text and "tinyparse heap overflow" not in operator.text
