"""Reference models, and why runs may target nothing else.

The attack these tests play: an evaluator (or anyone able to create a run) names a model spec
and URL of their choosing; Inspect builds the model from the worker's environment
(`OPENAI_API_KEY`, `<SERVICE>_API_KEY`, `<SERVICE>_BASE_URL`) and the worker sends its own
provider key to the attacker's host. Runs now name a submission or a reference model that a
coordinator registered (key sealed in the vault); the worker builds every model with an
explicit key and URL and runs with provider variables removed from its environment.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.tokens import authenticate
from clearinghouse.audit.models import AuditEvent
from clearinghouse.core.errors import NotFound
from clearinghouse.evals.models import EvalRun, ReferenceModel
from clearinghouse.evals.runs import execution
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.runs.modelaccess import NO_KEY, minimal_environment
from clearinghouse.storage.jobs import Job
from clearinghouse.storage.vault import SealedValue
from clearinghouse.workers.runner import Worker
from tests.support.fake_chat import chat_server
from tests.support.world import Member, World

KEY = "sk-registered-reference-key-0123456789"
CANARIES = {
    "OPENAI_API_KEY": "sk-canary-openai-0000000000000000",
    "LAB_API_KEY": "sk-canary-lab-1111111111111111",
    "REF_API_KEY": "sk-canary-ref-2222222222222222",
    "JUDGE_API_KEY": "sk-canary-judge-3333333333333333",
    "ANTHROPIC_API_KEY": "sk-canary-anthropic-4444444444444444",
}


def _coordinator(world: World, role: Role = Role.admin) -> Member:
    return world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, role)


def register(
    client: TestClient,
    admin: Member,
    name: str,
    base_url: str,
    *,
    model: str = "openai-api/ref/reference-m",
    api_key: str | None = KEY,
) -> dict:
    body = {"name": name, "model": model, "base_url": base_url}
    if api_key is not None:
        body["api_key"] = api_key
    r = client.post("/api/v1/reference-models", headers=admin.headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_only_coordinator_admins_register_and_nobody_reads_a_key_back(
    client: TestClient, world: World
) -> None:
    body = {
        "name": "baseline",
        "model": "openai-api/ref/reference-m",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": KEY,
    }
    for kind in OrgKind:
        org = world.org(kind)
        for role in Role:
            if kind is OrgKind.coordinator and role is Role.admin:
                continue
            m = world.member(org, kind, role)
            r = client.post("/api/v1/reference-models", headers=m.headers, json=body)
            assert r.status_code == 403, (kind, role, r.text)
    admin = _coordinator(world)
    r = client.post("/api/v1/reference-models", headers=admin.headers, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "baseline" and created["api_key_set"] is True
    assert created["api_key_hint"] == "…" + KEY[-4:]
    assert KEY not in r.text and "api_key" not in created
    # a second with the same name is a conflict, not a 500
    again = client.post("/api/v1/reference-models", headers=admin.headers, json=body)
    assert again.status_code == 409 and again.json()["code"] == "reference_model_exists"

    ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.viewer)
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    for reader in (ev, admin):
        got = client.get(f"/api/v1/reference-models/{created['id']}", headers=reader.headers)
        assert got.status_code == 200 and KEY not in got.text
        page = client.get("/api/v1/reference-models?limit=1", headers=reader.headers)
        assert page.status_code == 200 and KEY not in page.text
        assert [x["id"] for x in page.json()["items"]] == [created["id"]]
    # labs may not even learn it exists
    assert (
        client.get(f"/api/v1/reference-models/{created['id']}", headers=lab.headers).status_code
        == 404
    )
    assert client.get("/api/v1/reference-models", headers=lab.headers).json()["items"] == []
    # the key is sealed: no column holds it, the audit trail does not either
    with world.services.db.transaction() as s:
        rm = s.get(ReferenceModel, created["id"])
        assert rm is not None and rm.api_key_sealed_id is not None
        sealed = s.get(SealedValue, rm.api_key_sealed_id)
        assert sealed is not None and KEY.encode() not in (sealed.ciphertext or b"")
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.tag == "evals:reference-model:create")
        ).all()
        assert len(events) == 1 and KEY not in repr(events[0].data)


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"model": "openai/gpt-4o-mini"}, "invalid_request"),
        ({"model": "anthropic/claude-3-5-sonnet"}, "invalid_request"),
        ({"model": "openai-api/only-service"}, "invalid_request"),
        ({"model": "openai-api-completions/x/m"}, "invalid_request"),
        ({"base_url": "http://user:secret@127.0.0.1:9/v1"}, "endpoint_refused"),
        ({"base_url": "ftp://127.0.0.1/v1"}, "endpoint_refused"),
        ({"api_key": ""}, "invalid_request"),
    ],
)
def test_registration_accepts_only_openai_compatible_specs_and_lab_endpoint_rules(
    client: TestClient, world: World, override: dict, code: str
) -> None:
    admin = _coordinator(world)
    body = {
        "name": "m1",
        "model": "openai-api/ref/m",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": KEY,
        **override,
    }
    r = client.post("/api/v1/reference-models", headers=admin.headers, json=body)
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert "secret" not in r.text and KEY not in r.text
    with world.services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ReferenceModel)) == 0


@pytest.mark.parametrize(
    "raw",
    [
        {"model": "openai-api/openai/any-model", "base_url": "http://attacker.invalid/v1"},
        {"model": "openai/gpt-4o-mini"},
        {"base_url": "http://attacker.invalid/v1"},
        {"judge_model": "openai/gpt-4o-mini"},
        {"judge_base_url": "http://attacker.invalid/v1"},
    ],
)
def test_a_raw_model_or_url_is_refused_for_every_role(
    client: TestClient, world: World, raw: dict
) -> None:
    admin = _coordinator(world)
    register(client, admin, "baseline", "http://127.0.0.1:9/v1")
    callers = [admin, _coordinator(world, Role.member)] + [
        world.member(world.org(kind), kind, role)
        for kind in (OrgKind.evaluator, OrgKind.lab, OrgKind.vendor)
        for role in (Role.member, Role.admin)
    ]
    for caller in callers:
        for base in ({}, {"reference_model": "baseline"}):
            r = client.post(
                "/api/v1/evals/runs",
                headers=caller.headers,
                json={**base, **raw, "tasks": ["knowledge_original"]},
            )
            assert r.status_code == 422, (caller.kind, caller.role, r.text)
            assert r.json()["code"] == "raw_model_refused"
    with world.services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_an_unknown_reference_model_is_not_found(client: TestClient, world: World) -> None:
    ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
    for body in (
        {"reference_model": "nope"},
        {"reference_model": "nope", "judge_reference_model": "nope"},
    ):
        r = client.post(
            "/api/v1/evals/runs", headers=ev.headers, json={**body, "tasks": ["knowledge_original"]}
        )
        assert r.status_code == 404 and r.json()["code"] == "reference_model_unknown", r.text


def test_a_reference_run_sends_only_the_registered_key_never_the_workers(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker test: the worker's environment holds provider keys and base URLs that point
    at an attacker's server. The run talks only to the registered endpoint, with the registered
    key; the attacker's server hears nothing; no request anywhere carries a canary, and while
    the run executes the worker's environment holds none of them."""
    watch = (*CANARIES, "OPENAI_BASE_URL", "REF_BASE_URL", "INSPECT_EVAL_MODEL_BASE_URL")
    with chat_server(watch_env=watch) as ref, chat_server(watch_env=watch) as attacker:
        for name, value in CANARIES.items():
            monkeypatch.setenv(name, value)
        for name in ("OPENAI_BASE_URL", "REF_BASE_URL", "INSPECT_EVAL_MODEL_BASE_URL"):
            monkeypatch.setenv(name, attacker.base_url)
        admin = _coordinator(world)
        register(client, admin, "baseline", ref.base_url)
        ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
        r = client.post(
            "/api/v1/evals/runs",
            headers=ev.headers,
            json={"reference_model": "baseline", "tasks": ["knowledge_original"], "limit": 2},
        )
        assert r.status_code == 202, r.text
        run = r.json()
        assert run["model"] == "openai-api/ref/reference-m" and run["reference_model_id"]
        Worker(world.services).run_once()
        done = client.get(f"/api/v1/evals/runs/{run['id']}", headers=ev.headers).json()
        assert done["state"] == "succeeded", done["error"]
        assert ref.requests, "the registered endpoint was never called"
        assert set(ref.authorizations) == {f"Bearer {KEY}"}
        assert attacker.requests == []
        for request in ref.requests:
            assert request["env"] == {}, "provider variables were visible during the run"
            text = repr(request)
            assert not any(v in text for v in CANARIES.values())
        # the environment is given back afterwards
        assert all(os.environ[k] == v for k, v in CANARIES.items())
        assert KEY not in client.get(f"/api/v1/evals/runs/{run['id']}", headers=ev.headers).text
    with world.services.db.transaction() as s:
        tags = list(s.scalars(select(AuditEvent.tag)))
    assert "evals:reference-model-secret:reveal" in tags
    # A reference run is a shared baseline: any evaluator may export its logs; a lab may not
    # even see it.
    other_ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    with world.services.db.transaction() as s:
        files = runs.export_logs(s, authenticate(s, other_ev.token), world.services, run["id"])
        assert any(name.endswith(".eval") for name, _ in files)
    with world.services.db.transaction() as s, pytest.raises(NotFound):
        runs.export_logs(s, authenticate(s, lab.token), world.services, run["id"])


def test_a_judge_is_a_reference_model_and_a_keyless_one_gets_a_placeholder(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A judge registered without a key, under the `openai` service: Inspect would read
    OPENAI_API_KEY for it. It gets the non-secret placeholder instead."""
    with chat_server() as ref, chat_server() as judge_server:
        for name, value in CANARIES.items():
            monkeypatch.setenv(name, value)
        admin = _coordinator(world)
        register(client, admin, "baseline", ref.base_url)
        register(
            client, admin, "judge", judge_server.base_url, model="openai-api/openai/j", api_key=None
        )
        ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
        r = client.post(
            "/api/v1/evals/runs",
            headers=ev.headers,
            json={
                "reference_model": "baseline",
                "judge_reference_model": "judge",
                "tasks": ["knowledge_original"],
            },
        )
        assert r.status_code == 202, r.text
        assert r.json()["judge_reference_model_id"]
        with minimal_environment(world.services.settings.var_dir / "inspect"):
            model, judge, info = execution._models(world.services, r.json()["id"])
            assert judge is not None and info["judge"] == "openai-api/openai/j"

            async def ask() -> None:
                await model.generate("hello")
                await judge.generate("is this malicious?")

            asyncio.run(ask())
        assert judge_server.authorizations == [f"Bearer {NO_KEY}"]
        assert ref.authorizations == [f"Bearer {KEY}"]
        for request in ref.requests + judge_server.requests:
            assert not any(v in repr(request) for v in CANARIES.values())


def test_a_run_queued_with_a_raw_model_before_the_fix_is_not_executed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forged (or legacy) row naming a raw spec and URL: the worker refuses it and calls
    nothing."""
    from clearinghouse.core.clock import utcnow
    from clearinghouse.core.ids import new_id
    from clearinghouse.storage import jobs

    with chat_server() as attacker:
        monkeypatch.setenv("OPENAI_API_KEY", CANARIES["OPENAI_API_KEY"])
        with world.services.db.transaction() as s:
            run = EvalRun(
                id=new_id("run"),
                model_spec="openai-api/openai/any-model",
                base_url=attacker.base_url,
                is_reference=True,
                tasks=["knowledge_original"],
                options={
                    "limit": 1,
                    "epochs": 1,
                    "seed": 0,
                    "message_limit": 5,
                    "token_limit": None,
                    "time_limit": None,
                    "max_tokens": 32,
                },
                state="queued",
                progress={},
                created_at=utcnow(),
            )
            s.add(run)
            s.flush()
            jobs.enqueue(s, "evals.run", {"run_id": run.id}, idempotency_key=f"evals.run:{run.id}")
        Worker(world.services).run_once()
        with world.services.db.transaction() as s:
            failed = s.get(EvalRun, run.id)
            assert failed is not None and failed.state == "failed"
            assert "raw model" in (failed.error or "")
        assert attacker.requests == []
