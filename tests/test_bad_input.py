"""Bad input gets a specific error with a stable code, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import ApiToken, OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.core.clock import utcnow
from clearinghouse.reviews.models import Submission
from tests.support.world import Member, World


def _audit_count(world: World) -> int:
    with world.services.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def people(world: World) -> dict[str, Member | str]:
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    agr = world.agreement(lab)
    return {"lab": lab, "ev": ev, "coord": coord, "lab_m": lab_m, "agr": agr}


def _submission_body(people: dict, **over: object) -> dict:
    body = {
        "agreement_id": people["agr"],
        "model_name": "m",
        "model_version": "1",
        "planned_release_at": (utcnow() + timedelta(days=20)).isoformat(),
        "endpoint_url": "http://127.0.0.1:9/v1",
        "api_key": "sk-very-secret-value-123",
        "evaluator_org_id": people["ev"],
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"planned_release_at": "2020-01-01T00:00:00Z"}, "release_in_past"),
        ({"planned_release_at": "2030-01-01T00:00:00"}, "invalid_request"),  # no timezone
        # parse, but lie outside what converts to UTC (each once answered 500)
        ({"planned_release_at": "9999-12-31T23:59:59-14:00"}, "invalid_request"),
        ({"planned_release_at": "0001-01-01T00:00:00+14:00"}, "invalid_request"),
        ({"planned_release_at": "9500-01-01T00:00:00Z"}, "invalid_request"),
        ({"api_key": None}, "invalid_request"),  # endpoint without key
        ({"weights_digest": "sha256:" + "a" * 64}, "invalid_request"),  # both access methods
        ({"endpoint_url": None, "api_key": None, "weights_digest": "md5:abc"}, "invalid_request"),
        ({"endpoint_url": "ftp://example.org/v1"}, "endpoint_refused"),
        ({"endpoint_url": "http://user:pw@127.0.0.1/v1"}, "endpoint_refused"),
        ({"evaluator_org_id": "org_nope"}, "evaluator_org_invalid"),
        ({"agreement_id": "agr_nope"}, "not_found"),
        ({"model_name": ""}, "invalid_request"),
        ({"unexpected": 1}, "invalid_request"),
    ],
)
def test_invalid_submissions_are_rejected_and_store_nothing(
    client: TestClient, world: World, people: dict, override: dict, code: str
) -> None:
    before = _audit_count(world)
    r = client.post(
        "/api/v1/submissions",
        headers=people["lab_m"].headers,
        json=_submission_body(people, **override),
    )
    assert r.status_code in (404, 409, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert "sk-very-secret-value-123" not in r.text  # validation errors never echo the key
    assert _audit_count(world) == before
    with world.services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_malformed_json_and_unknown_routes(client: TestClient, people: dict) -> None:
    h = {**people["coord"].headers, "Content-Type": "application/json"}
    r = client.post("/api/v1/orgs", headers=h, content=b"{not json")
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert client.get("/api/v1/nothing-here", headers=h).json()["code"] == "route_not_found"
    assert client.put("/api/v1/orgs", headers=h).json()["code"] == "method_not_allowed"


def test_unknown_ids_are_404_with_code(client: TestClient, people: dict) -> None:
    h = people["coord"].headers
    for path in (
        "/api/v1/orgs/org_x",
        "/api/v1/users/usr_x",
        "/api/v1/agreements/agr_x",
        "/api/v1/submissions/sub_x",
        "/api/v1/jobs/job_x",
    ):
        r = client.get(path, headers=h)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path


def test_duplicate_org_name_is_a_conflict(client: TestClient, world: World, people: dict) -> None:
    h = people["coord"].headers
    assert (
        client.post("/api/v1/orgs", headers=h, json={"name": "Acme", "kind": "vendor"}).status_code
        == 201
    )
    before = _audit_count(world)
    r = client.post("/api/v1/orgs", headers=h, json={"name": "Acme", "kind": "vendor"})
    assert r.status_code == 409 and r.json()["code"] == "already_exists"
    assert _audit_count(world) == before


def test_bad_pagination_cursor(client: TestClient, people: dict) -> None:
    r = client.get("/api/v1/orgs?cursor=!!!", headers=people["coord"].headers)
    assert r.status_code == 422 and r.json()["code"] == "cursor_invalid"


def test_pagination_walks_every_item_once(client: TestClient, world: World, people: dict) -> None:
    for _ in range(7):
        world.org(OrgKind.vendor)
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/orgs?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=people["coord"].headers).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 10  # 7 vendors + lab + evaluator + coordinator


@pytest.mark.parametrize("mutation", ["revoked", "expired", "garbage", "wrong_secret"])
def test_bad_tokens_get_specific_401s(
    client: TestClient, world: World, people: dict, mutation: str
) -> None:
    m: Member = people["coord"]
    token = m.token
    with world.services.db.transaction() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.user_id == m.user_id)).one()
        if mutation == "revoked":
            row.revoked_at = utcnow()
        elif mutation == "expired":
            row.expires_at = utcnow() - timedelta(seconds=1)
    if mutation == "garbage":
        token = "not-a-token"
    elif mutation == "wrong_secret":
        token = token[:-4] + "AAAA"
    before = _audit_count(world)
    r = client.post(
        "/api/v1/orgs",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "z", "kind": "lab"},
    )
    assert r.status_code == 401
    assert r.json()["code"] == {"revoked": "token_revoked", "expired": "token_expired"}.get(
        mutation, "token_invalid"
    )
    assert r.headers["www-authenticate"] == "Bearer"
    assert _audit_count(world) == before


def test_revoking_a_token_takes_effect_immediately(client: TestClient, people: dict) -> None:
    coord: Member = people["coord"]
    issued = client.post(
        "/api/v1/tokens", headers=coord.headers, json={"user_id": coord.user_id}
    ).json()
    h2 = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/orgs", headers=h2).status_code == 200
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=coord.headers).json()[
        "revoked_at"
    ]
    assert client.get("/api/v1/orgs", headers=h2).json()["code"] == "token_revoked"
    listed = client.get("/api/v1/tokens", headers=coord.headers).json()["items"]
    assert all("token" not in t and "secret_hash" not in t for t in listed)


def test_illegal_transition_is_409_and_changes_nothing(
    client: TestClient, world: World, people: dict
) -> None:
    ev_m = world.member(people["ev"], OrgKind.evaluator, Role.member)
    sid = world.submission(people["agr"], people["lab_m"], people["ev"])
    before = _audit_count(world)
    r = client.post(
        f"/api/v1/submissions/{sid}/transition",
        headers=ev_m.headers,
        json={"to": "findings_drafted"},
    )
    assert r.status_code == 409
    body = r.json()
    assert (
        body["code"] == "illegal_transition"
        and body["current"] == "submitted"
        and body["target"] == "findings_drafted"
    )
    assert (
        client.get(f"/api/v1/submissions/{sid}", headers=ev_m.headers).json()["state"]
        == "submitted"
    )
    assert _audit_count(world) == before + 1  # only the read just above
    r = client.post(
        f"/api/v1/submissions/{sid}/transition", headers=ev_m.headers, json={"to": "lapsed"}
    )
    assert r.status_code == 422  # lapsing is the job's to do, not a client's


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud822 surrogate"])
def test_unstorable_text_is_rejected_before_the_database(
    client: TestClient, world: World, people: dict, text: str
) -> None:
    """Found by schemathesis: PostgreSQL refuses NUL in text, and no backend stores surrogates."""
    import json

    before = _audit_count(world)
    payload = json.dumps({"name": text, "kind": "vendor"}).encode()
    r = client.post(
        "/api/v1/orgs",
        headers={**people["coord"].headers, "Content-Type": "application/json"},
        content=payload,
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert client.get("/api/v1/orgs/bad%00id", headers=people["coord"].headers).status_code == 422
    assert (
        client.get("/api/v1/audit/events?tag=a%00b", headers=people["coord"].headers).status_code
        == 422
    )
    assert _audit_count(world) == before


@pytest.mark.parametrize(
    "override",
    [{"time_limit": 8752863181998155626446848}, {"token_limit": 10**30}, {"seed": 2**64}],
)
def test_out_of_range_numbers_are_422_not_a_database_overflow(
    client: TestClient, world: World, people: dict, override: dict
) -> None:
    """Integers too large for a database column are refused by validation (schemathesis once
    sent a 25-digit time limit and got a 500 from the driver's overflow)."""
    ev_m = world.member(people["ev"], OrgKind.evaluator, Role.member)
    before = _audit_count(world)
    r = client.post(
        "/api/v1/evals/runs",
        headers=ev_m.headers,
        json={"reference_model": "baseline", "tasks": ["knowledge_original"], **override},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text
    assert _audit_count(world) == before


@pytest.mark.parametrize(
    "base_url",
    [
        "http://user:secret@127.0.0.1:9/v1",
        "ftp://127.0.0.1/v1",
        "http://:secret@/v1",
        "http://[::1/v1",
        "http://127.0.0.1:99999/v1",
    ],
)
def test_reference_model_urls_follow_the_endpoint_rules(
    client: TestClient, world: World, people: dict, base_url: str
) -> None:
    """A reference model's URL (runs and judges may name nothing else) is checked like a lab's
    endpoint: a credential in the URL would be stored and shown."""
    before = _audit_count(world)
    r = client.post(
        "/api/v1/reference-models",
        headers=people["coord"].headers,
        json={"name": "m", "model": "openai-api/ref/m", "base_url": base_url},
    )
    assert r.status_code == 422 and r.json()["code"] == "endpoint_refused", r.text
    assert _audit_count(world) == before
    assert "secret" not in r.text


def test_the_cli_refuses_a_release_date_out_of_range_without_a_traceback(
    cli_env: dict[str, str], world: World, people: dict
) -> None:
    """The CLI converted `--release` to UTC itself, before the schema's bounds: a time that
    does not exist in UTC was an OverflowError and a traceback."""
    import subprocess
    import sys

    before = _audit_count(world)
    proc = subprocess.run(
        [
            sys.executable, "-m", "clearinghouse", "submissions", "create",
            "--agreement", people["agr"], "--model", "m", "--version", "1",
            "--release", "9999-12-31T23:59:59-1400", "--evaluator", people["ev"],
            "--endpoint", "http://127.0.0.1:9/v1", "--api-key-file", "-", "--json",
        ],
        env={**cli_env, "CLEARINGHOUSE_TOKEN": people["lab_m"].token},
        input="sk-very-secret-value-123\n",
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "1900-01-01" in proc.stderr, proc.stderr
    assert _audit_count(world) == before
    with world.services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


# --- recipes, overrides and the triage queue (issue 11) -------------------------------------

_MULTIPART = "multipart/form-data; boundary=xyz"


def _recipe_part(name: str, data: bytes, filename: str = "recipe.tar.gz") -> bytes:
    return (
        (
            f'--xyz\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/gzip\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("text/plain", b"recipe", "recipe_upload_invalid"),
        ("application/json", b"{}", "recipe_upload_invalid"),
        ("multipart/form-data", b"--xyz--\r\n", "recipe_upload_invalid"),  # no boundary
        (_MULTIPART, b"--xyz--\r\n", "recipe_upload_invalid"),  # no parts
        (_MULTIPART, _recipe_part("archive", b"x") + b"--xyz--\r\n", "recipe_upload_invalid"),
        (
            _MULTIPART,
            _recipe_part("file", b"a") + _recipe_part("file", b"b") + b"--xyz--\r\n",
            "recipe_upload_invalid",
        ),
        (_MULTIPART, b"\x00\xff garbage without parts", "recipe_upload_invalid"),
        (
            _MULTIPART,
            _recipe_part("files", b"x", "/etc/passwd") + b"--xyz--\r\n",
            "archive_refused",
        ),
        ("application/gzip", b"\x1f\x8b\x08\x00 truncated gzip", "archive_refused"),
        ("application/zip", b"PK\x03\x04 not really a zip", "archive_refused"),
    ],
)
def test_bad_recipe_uploads_get_a_stable_code_and_change_nothing(
    client: TestClient, world: World, people: dict, content_type: str, body: bytes, code: str
) -> None:
    reporter = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    report = client.post(
        "/api/v1/reports",
        headers=reporter.headers,
        json={
            "title": "overflow in demo",
            "description": "a crafted header overflows a fixed buffer",
            "provenance": {"kind": "human"},
            "target": {"purl": "pkg:pypi/demo@1.0"},
        },
    ).json()
    before = _audit_count(world)
    r = client.post(
        f"/api/v1/reports/{report['id']}/recipe",
        headers={**reporter.headers, "Content-Type": content_type},
        content=body,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert _audit_count(world) == before


def test_unknown_reports_and_bad_queue_pages_get_their_codes(
    client: TestClient, people: dict
) -> None:
    h = people["coord"].headers
    r = client.post(
        "/api/v1/reports/vrp_x/recipe",
        headers={**h, "Content-Type": "application/gzip"},
        content=b"\x1f\x8b",
    )
    assert r.status_code in (404, 422), r.text  # the upload is read, then the report looked up
    for method, path, body in (
        ("GET", "/api/v1/reports/vrp_x/validations", None),
        (
            "POST",
            "/api/v1/reports/vrp_x/override",
            {"signal": "ssvc", "value": "track", "reason": "r"},
        ),
    ):
        r = client.request(method, path, headers=h, json=body)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    for query in ("limit=0", "limit=201", "cursor=%00", "cursor=" + "A" * 300):
        r = client.get(f"/api/v1/triage/queue?{query}", headers=h)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["code"] in ("invalid_request", "cursor_invalid")
