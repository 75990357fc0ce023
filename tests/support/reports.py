"""A vulnerability report, submitted over HTTP as a member of an organisation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.world import Member

HEAP_OVERFLOW: dict[str, Any] = {
    "title": "Heap overflow in tinyparse header parsing",
    "description": "tinyparse copies the header name into a fixed 64 byte heap buffer.",
    "provenance": {"kind": "human"},
    "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
    "claimed_cwe": "CWE-787",
}


def post_report(client: TestClient, who: Member, **over: Any) -> str:
    """Submit the report (with `over` replacing fields); returns its record's id."""
    r = client.post("/api/v1/reports", json=HEAP_OVERFLOW | over, headers=who.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["vuln_id"])
