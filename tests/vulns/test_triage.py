"""Triage over HTTP: to publication, and embargo dates."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.publication.dump import dump
from clearinghouse.vulns.publication.export import public_records
from tests.support.vulns import (
    audit_count,
    submit,
)
from tests.support.world import Member


def test_triage_to_publication_makes_the_record_public(
    client: TestClient, services: Services, people: dict[str, Member], tmp_path: Path
) -> None:
    rep = submit(client, people["lab"])
    vid, coord = rep["vuln_id"], people["coordinator"].headers
    path = f"/api/v1/vulns/{vid}/triage"
    # Only coordinators (member or above) triage; the reporter may read but not change.
    assert (
        client.post(path, json={"status": "triaged"}, headers=people["lab"].headers).status_code
        == 403
    )
    assert (
        client.post(
            path, json={"status": "triaged"}, headers=people["coordinator_viewer"].headers
        ).status_code
        == 403
    )
    # Illegal moves are refused with a stable code.
    r = client.post(path, json={"status": "published"}, headers=coord)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    for status in ("triaged", "validated"):
        assert client.post(path, json={"status": status}, headers=coord).json()["status"] == status
    # Published but still under embargo and AMBER+STRICT: not public yet.
    out = client.post(path, json={"status": "published"}, headers=coord).json()
    assert out["status"] == "published" and out["published"] is not None
    assert client.get(f"/v1/vulns/{vid}").status_code == 404
    assert list(public_records(services.db, Principal.system())) == []
    out = client.post(path, json={"tlp": "CLEAR", "lift_embargo": True}, headers=coord).json()
    assert out["tlp"] == "CLEAR" and out["embargo_until"] is None
    public = client.get(f"/v1/vulns/{vid}").json()
    assert public["id"] == f"x_{vid}" and public["published"]  # the OSV schema's x_ prefix
    hits = client.post("/v1/query", json={"package": {"purl": "pkg:pypi/tinyparse@2.4.0"}}).json()
    assert [v["id"] for v in hits["vulns"]] == [f"x_{vid}"]
    # Now everyone sees it in listings, and it is in the public dump.
    assert [
        v["id"]
        for v in client.get("/api/v1/vulns", headers=people["other"].headers).json()["items"]
    ] == [vid]
    summary = dump(public_records(services.db, Principal.system()), tmp_path / "dump")
    assert summary == {"ecosystems": 1, "records": 1}
    with zipfile.ZipFile(tmp_path / "dump" / "PyPI" / "all.zip") as z:
        assert z.namelist() == [f"x_{vid}.json"]
    tags = [e["tag"] for e in client.get("/api/v1/audit/events?limit=100", headers=coord).json()]
    assert tags.count("vulns:vuln:triage") == 4 and "vulns:report:create" in tags


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T00:00:00Z"]
)
def test_an_embargo_date_out_of_range_is_refused_and_changes_nothing(
    client: TestClient, services: Services, people: dict[str, Member], when: str
) -> None:
    """A date that parses but cannot be converted to UTC once reached the database and
    answered 500."""
    rep = submit(client, people["lab"])
    coord = people["coordinator"].headers
    before = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=coord).json()
    events = audit_count(services)
    r = client.post(
        f"/api/v1/vulns/{rep['vuln_id']}/triage", json={"embargo_until": when}, headers=coord
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text
    assert audit_count(services) == events
    after = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=coord).json()
    assert after["embargo_until"] == before["embargo_until"]
