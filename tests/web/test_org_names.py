"""Pages name organisations by their name, not their opaque id: a case's participants, vendor
statuses, messages (author, recipients), fixes and timeline, and the operator pages' operator
column. A name is text: an organisation named like markup renders escaped, never as markup."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import update

from clearinghouse.accounts.models import Org, OrgKind, Role
from clearinghouse.container import Services
from tests.coordination.fix_kit import Cast
from tests.inventory.support import operator_with_asset
from tests.support.world import World
from tests.web.pages_kit import Browser, build_case

HOSTILE = '<script>alert("vendor")</script><img src=x onerror=alert(1)> Tinyparse Ltd'


def _rename(services: Services, org_id: str, name: str) -> None:
    with services.db.transaction() as s:
        s.execute(update(Org).where(Org.id == org_id).values(name=name))


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


def test_a_case_page_names_its_participants_and_escapes_the_names(
    client: TestClient, services: Services, cast: Cast
) -> None:
    scene = build_case(client, services, cast)
    _rename(services, cast.vendor.org_id, HOSTILE)
    _rename(services, cast.coordinator.org_id, "National CERT & Co")
    escaped = str(escape(HOSTILE))  # as Jinja's autoescape writes it
    for who in (cast.coordinator, cast.vendor):
        page = Browser(client, services, who).get(f"/cases/{scene.case_id}")
        assert page.status_code == 200
        text = page.text
        assert "<script>alert" not in text and "<img src=x" not in text  # never markup
        assert f"<li>{escaped}: vendor" in text  # the participants list
        assert f"<td>{escaped}</td>" in text  # the vendor statuses table
        assert "National CERT &amp; Co" in text  # the messages' author
        # The vendor's id is no longer printed as a label (only in form values and URLs).
        assert f">{cast.vendor.org_id}<" not in text and f"· {cast.vendor.org_id} ·" not in text
    timeline = Browser(client, services, cast.coordinator).get(f"/cases/{scene.case_id}/timeline")
    assert timeline.status_code == 200
    assert "<script>alert" not in timeline.text
    assert f"by {cast.coordinator.org_id}" not in timeline.text
    assert "by National CERT &amp; Co" in timeline.text


def test_the_coordinator_sees_operators_by_name_on_the_assets_page(
    client: TestClient, services: Services, world: World
) -> None:
    operator, asset_id = operator_with_asset(world)
    operator_org = operator.org_id
    _rename(services, operator_org, "<b>Grid</b> operator")
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    page = Browser(client, services, coordinator).get("/operator/assets")
    assert page.status_code == 200
    assert "&lt;b&gt;Grid&lt;/b&gt; operator" in page.text and "<b>Grid</b>" not in page.text
    assert f"<td>{operator_org}</td>" not in page.text
    asset = Browser(client, services, coordinator).get(f"/operator/assets/{asset_id}")
    assert asset.status_code == 200
    assert "<dd>&lt;b&gt;Grid&lt;/b&gt; operator</dd>" in asset.text
