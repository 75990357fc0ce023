"""What the coordination page tests share: a signed-in browser per member (a real web session
through `accounts.web_sessions`, its cookie and its CSRF token), and a case with its cast built
through the API (reporter, coordinator, vendor, the operators' sharing group), carrying
secrets that each page must never show to whom the API would not."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts import web_sessions
from clearinghouse.accounts.models import User
from clearinghouse.container import Services
from clearinghouse.vulns.dedup import candidates as dedup
from tests.support.vulns import report_body
from tests.support.world import Member

# Secrets planted in the case: none may reach a page of someone the API would not show it to.
POC_BYTES = b"PAGE-SECRET-POC-7f3a9c: \x00\x01AAAA%n%n"
DESCRIPTION = "PAGE-SECRET-DETAILS-51be2: the header reader copies past its 64-byte buffer."
AMBER_MESSAGE = "PAGE-SECRET-AMBER-MESSAGE-c0ffee"
RED_MESSAGE = "PAGE-SECRET-RED-MESSAGE-d00d"
VENDOR_STATEMENT = "PAGE-SECRET-VENDOR-STATEMENT-beef"
SECRETS = (
    DESCRIPTION,
    AMBER_MESSAGE,
    RED_MESSAGE,
    VENDOR_STATEMENT,
    base64.b64encode(POC_BYTES).decode(),
    "PAGE-SECRET-POC-7f3a9c",
)


class Browser:
    """A TestClient signed in as `member` (or anonymous): its own cookie jar."""

    def __init__(self, client: TestClient, services: Services, member: Member | None) -> None:
        self.http = TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)
        self.member = member
        self.csrf = ""
        if member is not None:
            with services.db.transaction() as s:
                user = s.scalar(select(User).where(User.id == member.user_id))
                assert user is not None
                opened = web_sessions.open_session(s, user, services.settings, via="password")
            self.http.cookies.set("ch_session", opened.secret)
            self.csrf = web_sessions.csrf_token(opened.secret)

    def get(self, path: str) -> Any:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def post_without_token(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.http.post(path, data=data or {})


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@dataclass
class Scene:
    case_id: str
    vuln_id: str
    report_id: str
    dup_vuln_id: str


def submit_report(client: TestClient, who: Member, **over: Any) -> dict[str, Any]:
    body = report_body(
        description=DESCRIPTION,
        poc={"filename": "crash.bin", "content_base64": base64.b64encode(POC_BYTES).decode()},
        **over,
    )
    r = client.post("/api/v1/reports", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def scan_duplicates(services: Services, *vuln_ids: str) -> None:
    with services.db.transaction() as s:
        dedup.scan(s, list(vuln_ids))


def api(client: TestClient, who: Member, path: str, body: dict[str, Any], status: int) -> Any:
    r = client.post(path, json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return r.json()


def build_case(client: TestClient, services: Services, cast: Any) -> Scene:
    """A reported record with a duplicate candidate, and a notified case over it: the vendor
    and the sharing group added, an AMBER message, a RED message to the vendor only, and the
    vendor's statement."""
    report = submit_report(client, cast.reporter)
    dup = submit_report(client, cast.reporter, title="Again: OOB write in tinyparse")
    scan_duplicates(services, report["vuln_id"], dup["vuln_id"])
    case = api(
        client,
        cast.coordinator,
        "/api/v1/cases",
        {"vuln_ids": [report["vuln_id"]], "title": "tinyparse heap overflow", "tlp": "AMBER"},
        201,
    )
    cid = case["id"]
    for org, role in ((cast.vendor.org_id, "vendor"), (cast.operator.org_id, "operator_group")):
        api(
            client,
            cast.coordinator,
            f"/api/v1/cases/{cid}/participants",
            {"org_id": org, "role": role},
            201,
        )
    api(
        client, cast.coordinator, f"/api/v1/cases/{cid}/transition", {"to": "vendors_notified"}, 200
    )
    api(client, cast.coordinator, f"/api/v1/cases/{cid}/messages", {"body": AMBER_MESSAGE}, 201)
    api(
        client,
        cast.coordinator,
        f"/api/v1/cases/{cid}/messages",
        {"body": RED_MESSAGE, "tlp": "RED", "recipient_org_ids": [cast.vendor.org_id]},
        201,
    )
    api(
        client,
        cast.vendor,
        f"/api/v1/cases/{cid}/vendor-status",
        {"status": "affected", "statement": VENDOR_STATEMENT},
        200,
    )
    return Scene(cid, report["vuln_id"], report["id"], dup["vuln_id"])
