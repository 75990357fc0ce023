"""The public OSV routes take anonymous input from anyone: no body, parameter or path ever
answers 5xx, every 4xx is osv.dev's error shape (`{"code": int, "message": str}`), and every
200 is a well-formed answer. Targeted cases (each once answered 500) and a property-based fuzz
of every public route in `api/routes/osv.py` (schemathesis does not reach the two that read the
raw body), on both databases, against seeded public records so lookups do real work."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.container import Services
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert_batch

RECORDS = [
    ("PYSEC-2026-1", "PyPI", "demo", "ECOSYSTEM", "2.0"),
    ("GHSA-aaaa-bbbb-cccc", "npm", "@scope/left-pad", "SEMVER", "1.4.0"),
    ("GO-2026-1", "Go", "example.com/mod", "SEMVER", "1.2.3"),
    ("MAVEN-2026-1", "Maven", "org.example:lib", "ECOSYSTEM", "3.1"),
    ("DEB-2026-1", "Debian:12", "openssl", "ECOSYSTEM", "3.0.11-1"),
    ("NUGET-2026-1", "NuGet", "Some.Lib", "ECOSYSTEM", "2.0.0"),
    ("GEM-2026-1", "RubyGems", "rack", "ECOSYSTEM", "2.0"),
    ("ALPINE-2026-1", "Alpine:v3.19", "busybox", "ECOSYSTEM", "1.36.1-r1"),
    ("COMPOSER-2026-1", "Packagist", "vendor/pkg", "ECOSYSTEM", "2.0"),
    ("CRATE-2026-1", "crates.io", "serde", "SEMVER", "1.0.1"),
]


@pytest.fixture
def seeded(services: Services) -> Services:
    docs = [
        canonical(
            {
                "id": rid,
                "modified": "2026-01-01T00:00:00Z",
                "aliases": [f"CVE-2026-{n}"],
                "summary": f"{rid} summary",
                "affected": [
                    {
                        "package": {"ecosystem": eco, "name": name},
                        "ranges": [{"type": kind, "events": [{"introduced": "0"}, {"fixed": fix}]}],
                        "versions": ["0.1"],
                    }
                ],
            }
        )
        for n, (rid, eco, name, kind, fix) in enumerate(RECORDS)
    ]
    with services.db.transaction() as s:
        upsert_batch(s, docs)
    return services


def osv_error(r: Any) -> bool:
    body = r.json()
    return (
        isinstance(body, dict)
        and set(body) == {"code", "message"}
        and type(body["code"]) is int
        and isinstance(body["message"], str)
    )


def check_query_answer(body: Any) -> None:
    assert isinstance(body, dict) and set(body) <= {"vulns", "next_page_token"}, body
    for v in body.get("vulns", []):
        assert isinstance(v["id"], str) and isinstance(v["modified"], str)
    assert isinstance(body.get("next_page_token", ""), str)


def check(r: Any, route: str, sent: Any = None) -> None:
    assert r.status_code < 500, (route, r.status_code, r.text[:500])
    if 400 <= r.status_code < 500:
        assert r.headers["content-type"].startswith("application/json"), (route, r.text[:500])
        assert osv_error(r), (route, r.status_code, r.text[:500])
        return
    assert r.status_code == 200, (route, r.status_code, r.text[:500])
    body = r.json()
    if route == "query":
        check_query_answer(body)
    elif route == "querybatch":
        assert isinstance(body, dict) and set(body) == {"results"}
        # (`sent` is None where Python's json cannot read what orjson can: deep nesting.)
        assert sent is None or len(body["results"]) == len(sent["queries"])
        for result in body["results"]:
            # Each item answers for itself: its vulns, or its own osv.dev-shaped error.
            assert set(result) <= {"vulns"} or (
                set(result) == {"error"} and result["error"]["code"] == 3
            ), result
            assert isinstance(result.get("error", {}).get("message", ""), str)
            for v in result.get("vulns", []):
                assert set(v) == {"id", "modified"}
    elif route == "get":
        assert isinstance(body["id"], str) and isinstance(body["modified"], str)
    elif route == "since":
        assert set(body) <= {"vulns", "next_page_token"} and isinstance(body["vulns"], list)
    elif route == "alias":
        assert set(body) <= {"vulns"}


def nested(depth: int, *, batch: bool = False) -> bytes:
    inner = b'{"a":' * depth + b"1" + b"}" * depth
    if batch:
        return b'{"queries": [{"package": ' + inner + b"}]}"
    return b'{"package": ' + inner + b', "version": "1.0"}'


HOSTILE_BODIES: list[bytes] = [
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": 12}).encode(),
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": []}).encode(),
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": None}).encode(),
    json.dumps({"package": {"purl": 12}}).encode(),
    json.dumps({"package": {"purl": ["pkg:pypi/demo"]}}).encode(),
    json.dumps({"package": {"purl": "pkg:pypi/demo"}, "version": 2**70}).encode(),
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "commit": 5}).encode(),
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI"}, "version": {"x": 1}}).encode(),
    json.dumps({"package": {"name": "demo", "ecosystem": "PyPI", "purl": 1.5}}).encode(),
    json.dumps({"package": "demo"}).encode(),
    json.dumps({"package": {"name": 2**70, "ecosystem": "PyPI"}}).encode(),
    json.dumps({"package": {"name": "demo\ud800", "ecosystem": "PyPI"}}).encode(),
    json.dumps({"package": {"name": "de\x00mo\x1b[31m", "ecosystem": "PyPI"}}).encode(),
    json.dumps({"package": {"name": "d" * 1_000_000, "ecosystem": "PyPI"}}).encode(),
    nested(1000),
    nested(1000, batch=True),
    b"[" * 1000 + b"]" * 1000,
    b'{"queries": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": NaN}',
    b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": Infinity}',
    b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": 1e400}',
    b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": 123456789012345678901234567890}',
    b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "package": 5}',
    b'{"package": {"name": "\xff\xfe", "ecosystem": "PyPI"}}',
    b"\xff\xfe\x00{",
    b"",
    b"[]",
    b'"a string"',
    b"12",
    b"null",
    b'{"queries": 12}',
    b'{"queries": [12, "x", null]}',
    b'{"queries": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": 12}]}',
    b'{"queries": [{"package": {"purl": 12}}]}',
]


@pytest.mark.parametrize("raw", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_answer_osv_errors_never_5xx(
    client: TestClient, seeded: Services, raw: bytes
) -> None:
    for route in ("query", "querybatch"):
        r = client.post(f"/v1/{route}", content=raw)
        try:
            sent = json.loads(raw)
        except (ValueError, RecursionError):
            sent = None
        check(r, route, sent)


def test_a_wrongly_typed_page_token_is_a_400(client: TestClient, seeded: Services) -> None:
    """`"page_token": 12` was an AttributeError and a dropped connection."""
    for token in (12, 1.5, True, [], {}, ["MTAwMA=="]):
        body = {"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": token}
        r = client.post("/v1/query", json=body)
        assert r.status_code == 400 and r.json()["code"] == 3, (token, r.text)
    ok = client.post(
        "/v1/query", json={"package": {"name": "demo", "ecosystem": "PyPI"}, "page_token": ""}
    )
    assert ok.status_code == 200 and [v["id"] for v in ok.json()["vulns"]] == ["PYSEC-2026-1"]


def test_deep_nesting_is_a_400(client: TestClient, seeded: Services) -> None:
    """About 1,000 levels of nesting was a RecursionError. In a batch, the deep query gets its
    own error and the others their answers."""
    r = client.post("/v1/query", content=nested(1000))
    assert r.status_code == 400 and r.json()["code"] == 3, r.text[:300]
    good = b'{"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}'
    raw = nested(1000, batch=True).replace(b'{"queries": [', b'{"queries": [' + good + b", ")
    results = client.post("/v1/querybatch", content=raw).json()["results"]
    assert [v["id"] for v in results[0]["vulns"]] == ["PYSEC-2026-1"]
    assert results[1]["error"]["code"] == 3 and "deeply" in results[1]["error"]["message"]


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "2026-01-01T00:00:00",
        "yesterday",
        "",
        "1" * 30,
        "2026-01-01T00:00:00Z\x00",
    ],
)
def test_modified_since_out_of_range_or_malformed_is_a_400(
    client: TestClient, seeded: Services, since: str
) -> None:
    r = client.get("/v1/vulns?" + urlencode({"modified_since": since}))
    assert r.status_code == 400 and r.json()["code"] == 3, r.text


def test_the_get_routes_answer_osv_errors_for_bad_parameters(
    client: TestClient, seeded: Services
) -> None:
    assert client.get("/v1/vulns").json()["code"] == 3  # modified_since is required
    for limit in ("0", "1001", "x", "1e3", str(2**70)):
        r = client.get(f"/v1/vulns?modified_since=2000-01-01T00:00:00Z&limit={limit}")
        assert r.status_code == 400 and r.json()["code"] == 3, (limit, r.text)
    good = client.get("/v1/vulns?modified_since=2000-01-01T00:00:00%2B14:00&limit=2").json()
    assert len(good["vulns"]) == 2
    for bad in ("a" * 500, "x%00y", "x y", "%F0%9F%92%A5"):
        r = client.get(f"/v1/vulns/{bad}")
        assert r.status_code in (400, 404) and osv_error(r), (bad, r.text)
    assert client.get("/v1/aliases?alias=CVE-2026-0").json()["vulns"][0]["id"] == "PYSEC-2026-1"


@pytest.mark.parametrize("version", ["1" * 5000, "0" * 5000, "1." + "9" * 5000, "", " ", "x" * 300])
def test_hostile_versions_in_every_seeded_ecosystem_never_5xx(
    client: TestClient, seeded: Services, version: str
) -> None:
    """A version of 5,000 digits made PEP 440 and RubyGems parsing raise ValueError (Python's
    limit on integer conversion), and an empty NuGet version a TypeError in the comparison:
    both were 500s on the anonymous API."""
    for _, eco, name, _, _ in RECORDS:
        q = {"package": {"name": name, "ecosystem": eco}, "version": version}
        for route, body in (("query", q), ("querybatch", {"queries": [q]})):
            r = client.post(f"/v1/{route}", json=body)
            check(r, route, body)


# --- the property-based fuzz ---------------------------------------------------------------

HOSTILE_SCALARS = st.sampled_from(
    [
        2**70,
        -(2**70),
        2**63,
        -1,
        0,
        1.5,
        True,
        None,
        "",
        "\x00",
        "\ud800",
        "\udfff\ud800",
        "\x1b[2J\x07\x7f",
        "x" * 100_000,
        "0" * 5000,
        "1" * 5000,
        "NuGet",
        "RubyGems",
        "rack",
        "Some.Lib",
        "pkg:pypi/demo@1.0",
        "pkg:pypi/%ff%fe@1",
        "pkg:npm/%40scope/@1",
        "pkg:/x@1",
        "pkg:pypi/@1",
        "pkg:pypi/a\x00b@1",
        "pkg:",
        "MTAwMA==",
        "LTE=",
        "!!!",
        "PyPI",
        "npm",
        "Go",
        "Maven",
        "Debian:12",
        "demo",
        "@scope/left-pad",
        "1.0",
        "v1.2.3",
        "0.1",
        "1.0.0-alpha+build",
        "999999999999999999999999.0",
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["package", "version"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
FIELD = HOSTILE_SCALARS | JSON


@st.composite
def queries(draw: st.DrawFn) -> Any:
    """Query-shaped objects: the known fields, each of the right or a wrong type."""
    package: dict[str, Any] = {}
    for key in draw(st.sets(st.sampled_from(["name", "ecosystem", "purl", "extra"]))):
        package[key] = draw(FIELD)
    query: dict[str, Any] = {}
    for key in draw(st.sets(st.sampled_from(["package", "version", "commit", "page_token", "x"]))):
        query[key] = package if key == "package" and draw(st.booleans()) else draw(FIELD)
    return query


BODIES = (
    queries()
    | JSON
    | st.builds(lambda qs: {"queries": qs}, st.lists(queries() | JSON, max_size=5))
    | st.builds(lambda q: {"queries": q}, FIELD)
)


def encode(value: Any) -> bytes:
    # ensure_ascii escapes lone surrogates as \\udXXX, as a hostile client would send them.
    return json.dumps(value, ensure_ascii=True).encode()


POSTS = st.tuples(
    st.sampled_from(["query", "querybatch"]),
    BODIES.map(lambda v: (encode(v), v))
    | st.binary(max_size=64).map(lambda b: (b, None))
    | st.sampled_from(HOSTILE_BODIES).map(lambda b: (b, None)),
)
IDS = st.text(min_size=1, max_size=150).filter(lambda s: "/" not in s and s not in (".", ".."))
SINCE = (
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    | st.text(max_size=40)
    | st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
)
LIMIT = st.none() | st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(max_size=8)
TOKEN = (
    st.none()
    | st.text(max_size=40)
    | st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | JSON.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()).filter(
        lambda t: len(t) < 1000  # a URL is at most 64 kB to the client
    )
    | st.sampled_from(
        [
            base64.urlsafe_b64encode(b'["0001-01-01T00:00:00+14:00", "x"]').decode(),
            base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", "x"]').decode(),
            base64.urlsafe_b64encode(rb'["2026-01-01T00:00:00+00:00", "x\u0000"]').decode(),
        ]
    )
)


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    case=st.one_of(
        POSTS.map(lambda p: ("post", p)),
        IDS.map(lambda i: ("get", i)),
        IDS.map(lambda i: ("alias", i)),
        st.tuples(SINCE, LIMIT, TOKEN).map(lambda s: ("since", s)),
    )
)
def test_fuzz_the_public_osv_routes(client: TestClient, seeded: Services, case: Any) -> None:
    kind, arg = case
    if kind == "post":
        route, (raw, sent) = arg
        if sent is None:
            try:
                sent = json.loads(raw)
            except (ValueError, RecursionError):
                sent = None
        check(client.post(f"/v1/{route}", content=raw), route, sent)
    elif kind == "get":
        check(client.get("/v1/vulns/" + quote(arg, safe="")), kind)
    elif kind == "alias":
        check(client.get("/v1/aliases?" + urlencode({"alias": arg})), kind)
    else:
        since, limit, token = arg
        params = {"modified_since": since} | ({"limit": limit} if limit is not None else {})
        params |= {"page_token": token} if token is not None else {}
        check(client.get("/v1/vulns?" + urlencode(params)), "since")
