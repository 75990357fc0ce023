"""The operator's journey in headless Chromium (Debian's /usr/bin/chromium through Playwright,
never `playwright install`) against the real server: an operator registers an asset, uploads an
SBOM with a known vulnerable purl (against an imported record), sees the exposure at the top of
its exposures, and closes it; another operator is refused on each of those pages. axe-core runs
on every page visited (serious and critical violations fail); the main pages are saved as
screenshots. The browser fixtures are the coordination journeys' (tests/web/
test_journeys_coordination.py) until the shell's shared ones land."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import Services
from clearinghouse.inventory.models import Exposure
from clearinghouse.inventory.prioritise_tasks import request_reprioritise
from tests.inventory.exposure_support import import_record, osv_doc
from tests.inventory.support import cyclonedx, drain
from tests.support.world import World
from tests.web.test_journeys_coordination import (  # noqa: F401 - the fixtures
    CHROMIUM,
    checked,
    chromium,
    server,
    shots,
    signed_in,
)
from tests.web.test_operator_pages import _early_warning

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # one browser run
]

VULNERABLE = "pkg:pypi/pumpctl@1.2.0"
RECORD = "PYSEC-2026-PUMP-1"


def test_an_operator_uploads_an_sbom_and_closes_an_exposure_and_an_outsider_is_refused(
    client: TestClient,
    services: Services,
    world: World,
    server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
    shots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    org = world.org(OrgKind.operator)
    operator = world.member(org, OrgKind.operator, Role.member)
    outsider = world.member(world.org(OrgKind.operator), OrgKind.operator, Role.member)
    with services.db.transaction() as s:
        import_record(
            s,
            osv_doc(
                RECORD, "pumpctl", "1.3.0", vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            ),
        )
    page = signed_in(chromium, services, server, operator)
    page.goto("/operator/assets")
    checked(page, shots)
    page.fill("#a-name", "Pumping station 3")
    page.select_option("#a-sector", "water")
    page.select_option("#a-crit", "critical")
    page.select_option("#a-exposure", "open")
    page.click("text=Register the asset")
    assert "The asset was registered" in page.inner_text("main")
    asset_url = page.url.split("?")[0]
    asset_path = "/" + asset_url.split("/", 3)[3]
    sbom = tmp_path / "bom.json"
    sbom.write_bytes(cyclonedx(VULNERABLE, "pkg:pypi/requests@2.32.3", None))
    page.set_input_files("#s-file", str(sbom))
    page.click("text=Upload the SBOM")
    assert "The SBOM was stored" in page.inner_text("main")
    drain(services)  # the worker matches the SBOM
    with services.db.transaction() as s:  # and prioritises (SSVC, due date) as the job does
        request_reprioritise(s, "journey")
    drain(services)
    page.reload()
    assert "no purl" in page.inner_text("main")  # the unmatched component, with why
    checked(page, shots, "operator-asset")
    page.goto("/operator/exposures")
    main = page.inner_text("main")
    assert VULNERABLE in main and RECORD in main and "1.3.0" in main
    assert "not decided yet" not in main  # the SSVC decision, with its inputs
    checked(page, shots, "operator-exposures")
    page.click("tbody a[href^='/operator/exposures/']")
    exposure_path = "/" + page.url.split("/", 3)[3]
    checked(page, shots)
    page.select_option("#s-status", "remediated")
    page.fill("#s-note", "upgraded pumpctl to 1.3.0")
    page.click("button:has-text('Change the status')")
    main = page.inner_text("main")
    assert "The exposure's status was changed" in main and "upgraded pumpctl to 1.3.0" in main
    checked(page, shots, "operator-exposure-closed")
    page.goto("/operator/metrics")
    assert "Remediated" in page.inner_text("main")
    checked(page, shots, "operator-metrics")
    page.goto("/dashboard")
    checked(page, shots)
    with services.db.transaction() as s:  # an early warning under embargo: badge and banner
        ew_vuln = import_record(s, osv_doc("PYSEC-2026-PUMP-EW", "pumpctl", "1.4.0"))
        closed = s.scalar(select(Exposure.id).where(Exposure.org_id == org))
        assert closed is not None
        ew = _early_warning(s, closed, ew_vuln)
    page.goto("/operator/exposures")
    assert "TLP:AMBER" in page.inner_text("main") and page.locator(".embargo").count() == 1
    checked(page, shots, "operator-exposures-early-warning")
    page.goto(f"/operator/exposures/{ew}")
    assert "Early warning" in page.inner_text("main")
    checked(page, shots)
    api = client.get("/api/v1/exposures", headers=operator.headers).json()["items"]
    assert sorted(e["status"] for e in api) == ["open", "remediated"]

    other = signed_in(chromium, services, server, outsider)
    for path, status in ((asset_path, 404), (exposure_path, 404)):
        response = other.goto(path)
        assert response is not None and response.status == status, path
        assert "Pumping station" not in other.inner_text("main")
        checked(other, shots)
    for path in ("/operator/assets", "/operator/exposures", "/operator/metrics"):
        response = other.goto(path)
        assert response is not None and response.status == 200
        text = other.inner_text("main")
        assert "Pumping station" not in text and VULNERABLE not in text and RECORD not in text
        checked(other, shots)
