"""Publication at the deadline, the vendors' notification, the early warning and the
transparency notice, against the real database (issue 14 parts 4 and 5)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal, Scope
from clearinghouse.container import Services
from clearinghouse.coordination import publication
from clearinghouse.coordination.models import Case, TimelineEvent
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound, PermissionDenied
from clearinghouse.notifications.delivery import body_of
from clearinghouse.notifications.fanout import variant_for
from clearinghouse.notifications.models import Notification
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.visibility import is_public
from tests.support.vulns import POC, submit
from tests.support.world import Member, World

MARKER = "zq7-embargo-marker-5d1c"
ALIAS = "CVE-2099-31337"
CVSS = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"


@dataclass
class Scene:
    """An embargoed case: a reported record with a marker in its title and description, an
    alias, a vendor, an operators' sharing group, a sealed PoC artifact; and the outsiders."""

    coordinator: Member
    reporter: Member
    vendor: Member
    operator: Member
    outsider: Member  # an admin of an organisation with no part in the case
    other_vendor: Member  # the vendor of another case
    outside_operator: Member  # an operator outside the sharing group
    case_id: str
    vuln_id: str
    report_id: str
    artifact_id: str
    embargo_until: datetime

    @property
    def needles(self) -> list[str]:
        return [self.vuln_id, ALIAS, MARKER, self.report_id, self.artifact_id]


def _ok(r: Any, code: int = 201) -> dict[str, Any]:
    assert r.status_code == code, r.text
    body: dict[str, Any] = r.json()
    return body


def build_scene(client: TestClient, world: World, *, transparency: bool = False) -> Scene:
    def m(kind: OrgKind, role: Role = Role.member) -> Member:
        return world.member(world.org(kind), kind, role)

    coordinator, reporter = m(OrgKind.coordinator), m(OrgKind.lab)
    vendor, operator = m(OrgKind.vendor), m(OrgKind.operator)
    outsider, other_vendor = m(OrgKind.lab, Role.admin), m(OrgKind.vendor, Role.admin)
    outside_operator = m(OrgKind.operator, Role.admin)
    report = submit(
        client,
        reporter,
        title=f"Heap overflow {MARKER} in tinyparse",
        description=f"The header reader overflows; recipe {MARKER} follows.",
    )
    vuln_id = report["vuln_id"]
    with world.services.db.transaction() as s:
        s.add(VulnerabilityAlias(alias=ALIAS, vuln_id=vuln_id))
        vuln = s.get(Vulnerability, vuln_id)
        assert vuln is not None
        vuln.record = {**vuln.record, "aliases": [ALIAS]}
    embargo = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    case = _ok(
        client.post(
            "/api/v1/cases",
            headers=coordinator.headers,
            json={
                "vuln_ids": [vuln_id],
                "title": f"case {MARKER}",
                "tlp": "AMBER",
                "embargo_until": embargo.isoformat(),
                "transparency_notice": transparency,
            },
        )
    )
    cid = case["id"]
    for org, role in ((vendor.org_id, "vendor"), (operator.org_id, "operator_group")):
        _ok(
            client.post(
                f"/api/v1/cases/{cid}/participants",
                headers=coordinator.headers,
                json={"org_id": org, "role": role},
            )
        )
    artifact = _ok(
        client.post(
            f"/api/v1/cases/{cid}/artifacts",
            headers=coordinator.headers,
            json={
                "kind": "poc",
                "filename": "crash.bin",
                "content_base64": base64.b64encode(POC + MARKER.encode()).decode(),
            },
        )
    )
    _ok(
        client.post(
            f"/api/v1/cases/{cid}/messages",
            headers=coordinator.headers,
            json={"body": f"the recipe: {MARKER}"},
        )
    )
    _ok(
        client.post(
            f"/api/v1/cases/{cid}/transition",
            headers=coordinator.headers,
            json={"to": "vendors_notified"},
        ),
        200,
    )
    _ok(
        client.post(
            f"/api/v1/cases/{cid}/vendor-status",
            headers=vendor.headers,
            json={"status": "affected", "statement": f"confirmed {MARKER}"},
        ),
        200,
    )
    # another case, whose vendor is `other_vendor`
    other = submit(client, coordinator, title="another bug entirely", description="x" * 40)
    other_case = _ok(
        client.post(
            "/api/v1/cases",
            headers=coordinator.headers,
            json={"vuln_ids": [other["vuln_id"]], "title": "the other case"},
        )
    )
    _ok(
        client.post(
            f"/api/v1/cases/{other_case['id']}/participants",
            headers=coordinator.headers,
            json={"org_id": other_vendor.org_id, "role": "vendor"},
        )
    )
    return Scene(
        coordinator,
        reporter,
        vendor,
        operator,
        outsider,
        other_vendor,
        outside_operator,
        cid,
        vuln_id,
        report["id"],
        artifact["id"],
        embargo,
    )


def received(services: Services, org_id: str, kind: str | None = None) -> list[str]:
    """Every notification body (webhook and e-mail are built from the same variant) that
    `org_id` would receive: exactly what the fan-out sends it."""
    out = []
    with services.db.transaction() as s:
        for n in s.scalars(select(Notification).order_by(Notification.id)):
            if kind is not None and n.kind != kind:
                continue
            variant = variant_for(n, org_id)
            if variant is not None:
                out.append(body_of(n, variant))
    return out


def _count(services: Services, kind: str) -> int:
    with services.db.transaction() as s:
        return s.scalar(select(func.count()).where(Notification.kind == kind)) or 0


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    return build_scene(client, world)


def test_not_before_the_deadline(services: Services, scene: Scene) -> None:
    assert publication.publish_due(services.db) == []
    with services.db.transaction() as s:
        vuln = s.get(Vulnerability, scene.vuln_id)
        assert vuln is not None and not is_public(vuln, utcnow())
        assert s.get(Case, scene.case_id).state == "fix_pending"  # type: ignore[union-attr]
    assert _count(services, publication.PUBLISHED) == 0


def test_publishes_once_at_the_deadline(services: Services, scene: Scene) -> None:
    later = scene.embargo_until + timedelta(seconds=1)
    # a run that crashes after publishing, before committing, leaves nothing behind
    with pytest.raises(RuntimeError), services.db.transaction() as s:
        assert publication.publish_case(s, Principal.system(), scene.case_id, reason="t")
        raise RuntimeError("worker died")
    with services.db.transaction() as s:
        assert s.get(Case, scene.case_id).state == "fix_pending"  # type: ignore[union-attr]
    assert _count(services, publication.PUBLISHED) == 0
    assert publication.publish_due(services.db, later) == [scene.case_id]
    assert publication.publish_due(services.db, later) == []  # twice: once
    with services.db.transaction() as s:
        assert s.get(Case, scene.case_id).state == "published"  # type: ignore[union-attr]
        vuln = s.get(Vulnerability, scene.vuln_id)
        assert vuln is not None and is_public(vuln, utcnow())
        assert vuln.published is not None and vuln.record["published"]
        assert publication.publish_case(s, Principal.system(), scene.case_id, reason="again") == []
        kinds = list(
            s.scalars(select(TimelineEvent.data).where(TimelineEvent.case_id == scene.case_id))
        )
        assert sum(1 for d in kinds if d.get("to") == "published") == 1
    assert _count(services, publication.PUBLISHED) == 1
    public = received(services, scene.outsider.org_id, publication.PUBLISHED)
    assert len(public) == 1 and scene.vuln_id in public[0] and ALIAS in public[0]


def test_publish_now_is_a_coordinators_audited_act(services: Services, scene: Scene) -> None:
    def as_(who: Member) -> Principal:
        return Principal(who.user_id, who.org_id, who.kind, who.role, frozenset(Scope), None, False)

    for adversary, error in (
        (scene.vendor, PermissionDenied),
        (scene.operator, PermissionDenied),
        (scene.outsider, NotFound),
    ):
        with pytest.raises(error), services.db.transaction() as s:
            publication.publish_now(s, as_(adversary), scene.case_id, "we want it out")
    with services.db.transaction() as s:
        published = publication.publish_now(
            s, as_(scene.coordinator), scene.case_id, "exploited in the wild"
        )
    assert published == [scene.vuln_id]
    with services.db.transaction() as s:
        reasons = [
            d.get("reason")
            for d in s.scalars(
                select(TimelineEvent.data).where(TimelineEvent.case_id == scene.case_id)
            )
        ]
    assert "published early: exploited in the wild" in reasons


def test_publish_now_over_http_then_the_record_is_in_the_osv_api(
    client: TestClient, services: Services, scene: Scene
) -> None:
    path = f"/api/v1/cases/{scene.case_id}/publish"
    body = {"reason": "the vendor shipped the fix"}
    assert client.post(path, json=body, headers=scene.vendor.headers).status_code == 403
    assert client.post(path, json=body, headers=scene.outsider.headers).status_code == 404
    assert client.post(path, json={"reason": ""}, headers=scene.coordinator.headers).json()[
        "code"
    ] in ("invalid_request", "reason_required")
    osv_id = client.get(
        f"/api/v1/vulns/{scene.vuln_id}/export?format=osv", headers=scene.coordinator.headers
    ).json()["id"]
    assert client.get(f"/v1/vulns/{osv_id}").status_code == 404  # embargoed until now
    r = client.post(path, json=body, headers=scene.coordinator.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "published"
    assert client.get(f"/v1/vulns/{osv_id}").status_code == 200
    again = client.post(path, json=body, headers=scene.coordinator.headers)
    assert again.status_code == 409  # published once


def test_vendor_notice_and_early_warning(services: Services, scene: Scene) -> None:
    vendor = received(services, scene.vendor.org_id, publication.VENDOR_NOTIFIED)
    assert len(vendor) == 1 and scene.case_id in vendor[0]
    warning = received(services, scene.operator.org_id, publication.EARLY_WARNING)
    assert len(warning) == 1
    assert "tinyparse" in warning[0] and '"mitigation"' in warning[0]  # what is affected
    for secret in ("recipe", "crash.bin", "confirmed", base64.b64encode(POC).decode()):
        assert secret not in warning[0]
    for stranger in (scene.outsider, scene.other_vendor, scene.outside_operator):
        for kind in (publication.EARLY_WARNING, publication.VENDOR_NOTIFIED):
            assert received(services, stranger.org_id, kind) == []
    with services.db.transaction() as s:
        (n,) = s.scalars(select(Notification).where(Notification.kind == publication.EARLY_WARNING))
        # Labelled AMBER (the case's label): never GREEN, which would let the operator pass
        # word of an embargoed vulnerability to its whole community.
        assert n.variants["early_warning"]["tlp"] == "AMBER"


@pytest.mark.parametrize(
    ("case_label", "warning_label"),
    [
        ("CLEAR", "AMBER"),
        ("GREEN", "AMBER"),
        ("AMBER", "AMBER"),
        ("AMBER+STRICT", "AMBER+STRICT"),
        ("RED", "RED"),
    ],
)
def test_the_early_warning_is_amber_or_the_cases_stricter_label(
    case_label: str, warning_label: str
) -> None:
    case = Case(tlp=case_label)
    assert publication.early_warning_tlp(case) == warning_label


def test_transparency_notice_metadata_only(
    client: TestClient, world: World, services: Services
) -> None:
    scene = build_scene(client, world, transparency=True)
    build_scene(client, world)  # opted out: no notice
    with services.db.transaction() as s:
        assert publication.send_transparency_notices(s) == [scene.case_id]
    with services.db.transaction() as s:
        assert publication.send_transparency_notices(s) == []  # once
        events = list(
            s.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.kind == publication.TRANSPARENCY_EVENT,
                )
            )
        )
    assert [e.case_id for e in events] == [scene.case_id]
    notices = received(services, scene.outsider.org_id, publication.TRANSPARENCY_NOTICE)
    assert len(notices) == 1
    notice = notices[0]
    assert "tinyparse" in notice and '"deadline"' in notice and '"reported"' in notice
    # adversarial: no technical detail at all
    for detail in (MARKER, "overflow", CVSS, "2.4.0", "CWE-787", scene.vuln_id, ALIAS, "recipe"):
        assert detail not in notice, detail
