"""Runs as objects: the battery's task list, listing runs under the policy (filtered in SQL,
paged), and the CLI: no token, no command; `evals run --wait` executes only the job it made."""

from __future__ import annotations

import json
import subprocess
import sys

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.evals.models import EvalRun
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import RunCreate
from clearinghouse.storage import jobs
from tests.evals.runs.support import register, run_row
from tests.support.fake_chat import chat_server
from tests.support.world import Member, World


def test_evals_tasks_lists_every_family(cli_env: dict[str, str], world: World) -> None:
    ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.viewer)
    r = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "evals", "tasks", "--json"],
        env={**cli_env, "CLEARINGHOUSE_TOKEN": ev.token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    tasks = json.loads(r.stdout)
    assert all(set(t) == {"name", "family", "version", "samples"} for t in tasks)
    by_name = {t["name"]: t for t in tasks}
    assert {t["family"] for t in tasks} == {"knowledge", "ctf", "poc", "patch"}
    assert by_name["ctf_generated"]["samples"] >= 12 and by_name["poc_asan"]["samples"] == 68
    assert by_name["patch_asan"]["samples"] == 17 and by_name["knowledge_original"]["samples"] >= 16


def test_an_evaluators_run_stays_listed_behind_many_newer_runs(
    client: TestClient, world: World
) -> None:
    """The listing filters in SQL and pages: 501+ newer runs of another evaluator's submission
    neither hide this evaluator's run nor appear to it."""
    lab = world.org(OrgKind.lab)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    agreement = world.agreement(lab)
    mine, theirs = world.org(OrgKind.evaluator), world.org(OrgKind.evaluator)
    me = world.member(mine, OrgKind.evaluator, Role.viewer)
    my_sub = world.submission(agreement, lab_m, mine)
    their_sub = world.submission(agreement, lab_m, theirs)

    def row(sub: str, org: str) -> EvalRun:
        return run_row(
            org,
            submission_id=sub,
            model_spec="openai-api/lab/frontier-x",
            is_reference=False,
            tasks=["knowledge_original"],
            state="succeeded",
        )

    with world.services.db.transaction() as s:
        my_run = row(my_sub, mine)
        s.add(my_run)
        my_id = my_run.id
    with world.services.db.transaction() as s:  # newer, in one transaction
        s.add_all([row(their_sub, theirs) for _ in range(520)])

    def all_ids(member: Member, limit: int) -> list[str]:
        ids, cursor = [], None
        while True:
            r = client.get(
                f"/api/v1/evals/runs?limit={limit}" + (f"&cursor={cursor}" if cursor else ""),
                headers=member.headers,
            )
            assert r.status_code == 200, r.text
            ids += [x["id"] for x in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return ids

    assert all_ids(me, 50) == [my_id]
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.viewer)
    seen = all_ids(coordinator, 200)
    assert len(seen) == 521 and len(set(seen)) == 521 and my_id in seen
    assert all_ids(lab_m, 50) == []  # labs see no runs, not even of their own submission
    bad = client.get("/api/v1/evals/runs?cursor=%%%", headers=me.headers)
    assert bad.status_code == 422 and bad.json()["code"] == "cursor_invalid"


def test_eval_commands_need_a_token_and_wait_runs_only_their_own_job(
    cli_env: dict[str, str], world: World
) -> None:
    """No token, no command (no system fallback in a shell); `evals run --wait` executes the
    job it created and leaves every other queued job alone."""
    for args in (
        ["evals", "tasks"],
        ["evals", "list"],
        ["evals", "run", "--reference-model", "x"],
        ["evals", "logs", "run_x"],
        ["evals", "reference-models", "list"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "clearinghouse", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 1 and "token" in r.stderr, (args, r.stderr)
    with chat_server() as model:
        register(world.services, "baseline", model.base_url, "sk-cli-0123456789abcdef")
        with world.services.db.transaction() as s:
            other = jobs.enqueue(s, "reviews.lapse_windows", {}, idempotency_key="other-job").id
        ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
        env = {**cli_env, "CLEARINGHOUSE_TOKEN": ev.token}
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "clearinghouse",
                "evals",
                "run",
                "--reference-model",
                "baseline",
                "--tasks",
                "knowledge_original",
                "--limit",
                "1",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["state"] == "succeeded" and out["model"].startswith("openai-api/local/")
        with world.services.db.transaction() as s:
            assert s.get(jobs.Job, other).state == "queued"  # type: ignore[union-attr]
        listed = subprocess.run(
            [sys.executable, "-m", "clearinghouse", "evals", "list", "--limit", "5", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert [x["id"] for x in json.loads(listed.stdout)["items"]] == [out["id"]]
        # a raw model is no longer a flag
        raw = subprocess.run(
            [sys.executable, "-m", "clearinghouse", "evals", "run", "--model", "openai/gpt-4o"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert raw.returncode != 0


def test_evals_run_wait_executes_its_own_run_and_never_another_queued_run(
    cli_env: dict[str, str], world: World
) -> None:
    """Two runs queued: another one first (due earlier, so a worker taking any due job would
    take it), then the CLI's. `evals run --wait` executes its own and leaves the other run
    and its job untouched: queued, never attempted, not leased."""
    with chat_server() as model:
        register(world.services, "baseline", model.base_url, "sk-wait-0123456789abcdef")
        with world.services.db.transaction() as s:
            other = runs.create_run(
                s,
                Principal.system(),
                world.services,
                RunCreate(reference_model="baseline", tasks=["knowledge_original"], limit=1),
            )
            other_job = runs.job_of(s, Principal.system(), other.id)
        ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
        r = subprocess.run(
            [
                sys.executable, "-m", "clearinghouse", "evals", "run", "--wait",
                "--reference-model", "baseline", "--tasks", "knowledge_original", "--limit", "1",
                "--json",
            ],
            env={**cli_env, "CLEARINGHOUSE_TOKEN": ev.token},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    mine = json.loads(r.stdout)
    assert mine["id"] != other.id and mine["state"] == "succeeded"
    with world.services.db.transaction() as s:
        assert runs.get_run(s, Principal.system(), other.id).state == "queued"
        job = s.get(jobs.Job, other_job)
        assert job is not None
        assert (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)
