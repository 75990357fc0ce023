"""Listing and full-text search: filters, pagination, and parameters no database can store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearinghouse.container import Services
from tests.support.vulns import (
    submit,
)
from tests.support.world import Member


def test_search_filters_and_pagination(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    submit(
        client,
        people["lab"],
        title="Heap overflow in zlib inflate window",
        description="The inflate window copy overflows when the distance exceeds the window size.",
        claimed_cwe="CWE-122",
        target={"purl": "pkg:npm/zlib-port@1.0.0"},
    )
    submit(
        client,
        people["lab"],
        title="SQL injection in report filter",
        description="The filter parameter is concatenated into a SQL statement without escaping.",
        claimed_cwe="CWE-89",
        target={"purl": "pkg:pypi/reportlib@0.9"},
    )
    for n in range(3):
        submit(
            client,
            people["lab"],
            title=f"Null dereference number {n}",
            description="A missing header makes the parser dereference a null pointer.",
            claimed_cwe="CWE-476",
        )
    h = people["coordinator"].headers

    def ids(query: str) -> list[str]:
        r = client.get(f"/api/v1/vulns?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [v["summary"] for v in r.json()["items"]]

    assert ids("q=inflate window") == ["Heap overflow in zlib inflate window"]
    assert ids("q=escaping") == ["SQL injection in report filter"]  # words of the details
    assert ids("q=nothing-matches-this") == []
    assert ids("cwe=CWE-89") == ["SQL injection in report filter"]
    assert ids("ecosystem=npm") == ["Heap overflow in zlib inflate window"]
    assert ids("ecosystem=PyPI&package=ReportLib") == ["SQL injection in report filter"]  # PEP 503
    assert len(ids("status=new")) == 5 and ids("status=published") == []
    assert len(ids("kev=false")) == 5 and ids("kev=true") == []
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/vulns?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=h
        ).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert client.get("/api/v1/vulns?q=%20%20", headers=h).json()["code"] == "search_empty"
    assert client.get("/api/v1/vulns?cursor=@@@", headers=h).json()["code"] == "cursor_invalid"


@pytest.mark.parametrize(
    "query",
    [
        "q=a%00b",
        "ecosystem=Py%00PI",
        "package=de%00mo",
        "ecosystem=PyPI&package=%ED%A0%80",
        "q=%ED%A0%80",
        "cwe=CWE-1%00",
        "cursor=%00",
    ],
)
def test_unstorable_text_in_listing_parameters_is_refused_not_a_500(
    client: TestClient, people: dict[str, Member], query: str
) -> None:
    """A NUL, or a lone surrogate, in a filter reached the database: PostgreSQL refuses NUL in
    text, and neither backend can encode a surrogate."""
    r = client.get(f"/api/v1/vulns?{query}", headers=people["coordinator"].headers)
    assert r.status_code in (200, 422), (query, r.status_code, r.text[:300])
    if r.status_code == 422:
        codes = ("invalid_request", "cursor_invalid", "filter_invalid", "search_empty")
        assert r.json()["code"] in codes, r.text
