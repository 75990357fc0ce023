"""The public advisories pages: published records, searchable and paged, for everyone; a new
report (not published, not public) never appears there, not even to its own reporter, and its
page is a 404 like the OSV API's. Hostile search text is refused or shown escaped."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from tests.support.vulns import record, submit, write_jsonl
from tests.support.web import signed_in_client
from tests.support.world import World


def _load(services: Services, tmp_path: Path, n: int) -> None:
    records = [record(f"PYSEC-2026-{i:03d}", name=f"pkg{i}") for i in range(n)]
    import_file(services.db, Principal.system(), write_jsonl(tmp_path / "r.jsonl", records))


def test_published_advisories_are_listed_searched_and_paged(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    _load(services, tmp_path, 30)
    first = client.get("/advisories")
    assert first.status_code == 200 and "PYSEC-2026-000" in first.text
    assert 'rel="next"' in first.text  # 30 records, 25 a page
    nxt = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(nxt.replace("&amp;", "&"))
    assert second.status_code == 200 and "PYSEC-2026-029" in second.text
    assert "PYSEC-2026-000" not in second.text
    found = client.get("/advisories?q=PYSEC-2026-007")
    assert "PYSEC-2026-007" in found.text
    none = client.get("/advisories?q=nothingmatchesthis")
    assert "No published advisory matches" in none.text
    detail = client.get("/advisories/" + first.text.split('href="/advisories/', 1)[1].split('"')[0])
    assert detail.status_code == 200 and "pkg" in detail.text and "fixed 2.0" in detail.text


def test_an_unpublished_report_is_not_an_advisory_even_for_its_reporter(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    report = submit(client, lab, title="Zero-day in tinyparse, not public yet")
    vid = report.get("vuln_id") or report["id"]
    assert client.get(f"/v1/vulns/{vid}").status_code == 404  # the OSV API's answer
    browser = signed_in_client(services, lab)
    try:
        for c in (client, browser):
            assert "not public yet" not in c.get("/advisories").text
            assert "not public yet" not in c.get("/advisories?q=tinyparse").text
            page = c.get(f"/advisories/{vid}")
            assert page.status_code == 404 and "not public yet" not in page.text
    finally:
        browser.__exit__(None, None, None)


def test_hostile_search_text_is_refused_or_escaped(client: TestClient) -> None:
    r = client.get("/advisories", params={"q": '<script>alert("x")</script>'})
    assert r.status_code in {200, 422}
    assert '<script>alert("x")</script>' not in r.text
    assert client.get("/advisories", params={"q": "x\x00y"}).status_code in {200, 422}
    assert client.get("/advisories", params={"cursor": "!!!"}).status_code == 422
    assert client.get("/advisories/..%2f..%2fetc").status_code in {404, 422}
