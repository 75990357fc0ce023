"""Hypothesis on the case routes, in process against the real database: hostile and
near-valid bodies (bounds, odd instants, unknown ids, wrong labels, junk base64), as a
coordinator and as the case's vendor. No input gives a 5xx; every refusal is problem+json
with a stable code; the case's state stays one of the machine's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.coordination.states import CaseState
from tests.support.vulns import submit
from tests.support.world import World

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
INSTANTS = st.sampled_from(
    [
        "2026-12-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-12-01T00:00:00",
        "not a date",
        "1900-01-01T00:00:00Z",
        "8999-12-31T00:00:00Z",
    ]
)
TLPS = st.sampled_from(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", "WHITE", "amber", ""])
TEXT = (
    st.sampled_from(["a reason", "x" * 300])
    | st.text(max_size=40)
    | st.sampled_from(["\x00", "\ud800", "a" * 5001])
)


def _body(
    required: dict[str, st.SearchStrategy[Any]], **optional: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


@pytest.mark.slow
def test_case_routes_give_no_server_error(client: TestClient, world: World) -> None:
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    vendor = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    reporter = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    vuln = submit(client, reporter)["vuln_id"]
    r = client.post(
        "/api/v1/cases",
        headers=coordinator.headers,
        json={"vuln_ids": [vuln], "title": "fuzzed", "tlp": "GREEN"},
    )
    cid = r.json()["id"]
    client.post(
        f"/api/v1/cases/{cid}/participants",
        headers=coordinator.headers,
        json={"org_id": vendor.org_id, "role": "vendor"},
    )
    orgs = st.sampled_from([vendor.org_id, reporter.org_id, coordinator.org_id, "org_x", ""])
    bodies: dict[str, st.SearchStrategy[Any]] = {
        "/api/v1/cases": _body(
            {
                "vuln_ids": st.lists(
                    st.sampled_from([vuln, "CH-1-1", "", "../x"]) | TEXT, max_size=3
                ),
                "title": TEXT,
            },
            tlp=TLPS,
            embargo_until=INSTANTS,
        ),
        f"/api/v1/cases/{cid}/participants": _body(
            {"org_id": orgs},
            role=st.sampled_from(["vendor", "reporter", "operator_group", "coordinator"]),
        ),
        f"/api/v1/cases/{cid}/vendor-status": _body(
            {
                "status": st.sampled_from(
                    ["unknown", "under_investigation", "affected", "not_affected", "fixed", "x"]
                )
            },
            statement=TEXT,
            justification=st.sampled_from(["component_not_present", "nope"]) | st.none(),
            fixed_versions=st.lists(TEXT, max_size=3),
            fix_commits=st.lists(
                st.sampled_from(["abcdef1", "https://x.example/c", "zz"]), max_size=3
            ),
            fix_scheduled_for=INSTANTS,
        ),
        f"/api/v1/cases/{cid}/transition": _body(
            {"to": st.sampled_from([s.value for s in CaseState] + ["nowhere"])}, reason=TEXT
        ),
        f"/api/v1/cases/{cid}/deadline": _body(
            {"days": st.integers(-1000, 1000) | st.just(0), "reason": TEXT}
        ),
        f"/api/v1/cases/{cid}/messages": _body(
            {"body": TEXT}, tlp=TLPS, recipient_org_ids=st.lists(orgs, max_size=3)
        ),
        f"/api/v1/cases/{cid}/artifacts": _body(
            {
                "filename": st.sampled_from(["a.bin", "../a", ""]),
                "content_base64": st.sampled_from(["UG9D", "!!!", "", "====", "UG9D\n"]) | TEXT,
            },
            kind=st.sampled_from(["poc", "patch", "other", "x"]),
            tlp=TLPS,
            media_type=st.sampled_from(["text/html", "a/b", "nope"]),
        ),
    }
    paths = st.sampled_from(sorted(bodies))
    gets = st.sampled_from(
        [
            f"/api/v1/cases/{cid}",
            f"/api/v1/cases/{cid}/messages?limit=0",
            f"/api/v1/cases/{cid}/timeline?cursor=%00",
            f"/api/v1/cases/{cid}/artifacts?limit=201",
            f"/api/v1/cases/{cid}/artifacts/cart_x/content",
            "/api/v1/cases?state=nowhere",
            "/api/v1/cases?cursor=Zm9v",
            "/api/v1/cases/%00",
        ]
    )

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        path=paths,
        data=st.data(),
        who=st.sampled_from(["coordinator", "vendor"]),
        raw=st.booleans(),
        get=gets,
    )
    def check(path: str, data: st.DataObject, who: str, raw: bool, get: str) -> None:
        member = coordinator if who == "coordinator" else vendor
        body = data.draw(JSON) if raw else data.draw(bodies[path])
        codes.add(path)
        for r in (
            # encoded here: a lone surrogate travels as its JSON escape, as a hostile client sends
            client.post(
                path,
                headers={**member.headers, "Content-Type": "application/json"},
                content=json.dumps(body),
            ),
            client.get(get, headers=member.headers),
        ):
            assert r.status_code < 500, (path, body, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json", r.text[:200]
                assert isinstance(r.json()["code"], str)
                codes.add(r.json()["code"])
            else:
                codes.add(f"ok {r.request.method} {r.request.url.path}")
        state = client.get(f"/api/v1/cases/{cid}", headers=coordinator.headers).json()["state"]
        assert state in {s.value for s in CaseState}

    codes: set[str] = set()
    check()
    # the bodies reached the domain, not only the schema: accepted writes and domain refusals
    assert {"invalid_request", "not_found"} <= codes
    assert any(c.startswith("ok POST") for c in codes), codes
    domain_codes = {
        "tlp_looser_than_case",
        "vuln_unknown",
        "org_unknown",
        "participant_exists",
        "illegal_transition",
        "recipients_need_red",
        "artifact_invalid",
    }
    assert codes & domain_codes, codes
