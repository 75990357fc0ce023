"""Replaying a run from its recorded config, and per-task sample limits.

A replay repeats the target, judge, tasks, seed and limits of a recorded run, so it gets the same
samples in the same order (checked by the dataset digests both runs record); who may replay is
who may read the run and create a run for its target."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.evals.errors import RunNotRunnable, UnknownTask
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import RunCreate, RunOut
from clearinghouse.reviews.models import Submission
from clearinghouse.workers.runner import Worker
from tests.evals.runs.support import reference_run, register, run_row
from tests.support.fake_chat import chat_server
from tests.support.world import World


def _execute(services: Services, run_id: str) -> RunOut:
    Worker(services).run_once()
    with services.db.transaction() as s:
        done = runs.get_run(s, Principal.system(), run_id)
    assert done.state == "succeeded", done.error
    return done


def test_a_replay_repeats_the_recorded_config_and_gets_the_same_samples(
    services: Services,
) -> None:
    with chat_server() as model:
        first = _execute(
            services, reference_run(services, model.base_url, "sk-replay-0123456789", limit=3).id
        )
        with services.db.transaction() as s:
            queued = runs.replay_run(s, Principal.system(), services, first.id)
        assert queued.replay_of == first.id and queued.state == "queued"
        again = _execute(services, queued.id)
    assert {k: v for k, v in again.options.items() if k != "replay_of"} == first.options
    assert again.options["seed"] == first.config["seed"]  # a fresh seed was drawn, then kept
    digests = [(t["name"], t["dataset_sha256"], t["samples"]) for t in first.config["tasks"]]
    assert [(t["name"], t["dataset_sha256"], t["samples"]) for t in again.config["tasks"]] == (
        digests
    )
    assert [r["sample_id"] for r in again.samples] == [r["sample_id"] for r in first.samples]
    assert again.reference_model_id == first.reference_model_id and again.id != first.id


def test_a_replay_of_another_seed_is_not_the_same_dataset(services: Services) -> None:
    """The adversary of the test above: the digest would match anything if it ignored the
    seed. A run with another seed records another digest (shuffled answer orders)."""
    with chat_server() as model:
        a = _execute(
            services, reference_run(services, model.base_url, "sk-seed-0123456789a", limit=3).id
        )
        with services.db.transaction() as s:
            b_queued = runs.create_run(
                s,
                Principal.system(),
                services,
                RunCreate(
                    reference_model=a.reference_model_id,
                    tasks=["knowledge_original"],
                    limit=3,
                    seed=(a.options["seed"] + 1) % 2**53,
                ),
            )
        b = _execute(services, b_queued.id)
    assert a.config["tasks"][0]["dataset_sha256"] != b.config["tasks"][0]["dataset_sha256"]


def test_task_limits_set_each_tasks_samples_and_are_recorded(services: Services) -> None:
    with chat_server() as model:
        name = "tl-ref"
        register(services, name, model.base_url, "sk-task-limits-0123456789")
        with services.db.transaction() as s:
            run = runs.create_run(
                s,
                Principal.system(),
                services,
                RunCreate(
                    reference_model=name,
                    tasks=["knowledge_original"],
                    limit=5,
                    task_limits={"knowledge_original": 2},
                ),
            )
        done = _execute(services, run.id)
    assert done.config["tasks"][0]["samples"] == 2 and done.config["tasks"][0]["limit"] == 2
    assert done.config["task_limits"] == {"knowledge_original": 2}
    assert done.options["task_limits"] == {"knowledge_original": 2}
    with services.db.transaction() as s, pytest.raises(UnknownTask, match="poc_asan"):
        runs.create_run(
            s,
            Principal.system(),
            services,
            RunCreate(
                reference_model=name, tasks=["knowledge_original"], task_limits={"poc_asan": 1}
            ),
        )


def test_a_run_without_a_recorded_seed_cannot_be_replayed(services: Services) -> None:
    with services.db.transaction() as s:
        row = run_row(None, state="succeeded", options={"limit": 2})
        s.add(row)
        run_id = row.id
    with services.db.transaction() as s, pytest.raises(RunNotRunnable, match="no seed"):
        runs.replay_run(s, Principal.system(), services, run_id)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("own_evaluator", 202),
        ("own_evaluator_viewer", 403),  # reads the run, may not create one
        ("other_evaluator", 404),
        ("lab_member", 404),
        ("coordinator_admin", 403),  # oversees runs, never runs a lab's model
        ("anonymous", 401),
    ],
)
def test_who_may_replay_a_submission_run(
    client: TestClient, world: World, who: str, status: int
) -> None:
    lab = world.org(OrgKind.lab)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    mine, theirs = world.org(OrgKind.evaluator), world.org(OrgKind.evaluator)
    sub = world.submission(world.agreement(lab), lab_m, mine)
    with world.services.db.transaction() as s:
        s.get(Submission, sub).state = "testing"  # type: ignore[union-attr]
        row = run_row(
            mine,
            submission_id=sub,
            is_reference=False,
            tasks=["knowledge_original"],
            state="succeeded",
            options={"seed": 7, "limit": 2, "epochs": 1},
        )
        s.add(row)
        run_id = row.id
    headers = {
        "own_evaluator": world.member(mine, OrgKind.evaluator, Role.member).headers,
        "own_evaluator_viewer": world.member(mine, OrgKind.evaluator, Role.viewer).headers,
        "other_evaluator": world.member(theirs, OrgKind.evaluator, Role.admin).headers,
        "lab_member": lab_m.headers,
        "coordinator_admin": world.member(
            world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin
        ).headers,
        "anonymous": {},
    }[who]
    r = client.post(f"/api/v1/evals/runs/{run_id}/replay", headers=headers)
    assert r.status_code == status, r.text
    if status == 202:
        body = r.json()
        assert body["replay_of"] == run_id and body["options"]["seed"] == 7
        assert body["submission_id"] == sub and body["options"]["limit"] == 2


def test_the_cli_replays_with_json_and_refuses_bad_input_with_codes(
    cli_env: dict[str, str], world: World
) -> None:
    ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.member)
    env = {**cli_env, "CLEARINGHOUSE_TOKEN": ev.token}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clearinghouse", *args, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    unknown = cli("evals", "replay", "run_nope", "--no-wait")
    # --json: the error is one JSON object on stderr with its stable code
    assert unknown.returncode == 1 and '"code": "not_found"' in unknown.stderr, unknown.stderr
    for bad in ("ctf_generated", "ctf_generated=x", "=3"):
        r = cli("evals", "run", "--reference-model", "x", "--task-limit", bad, "--no-wait")
        assert r.returncode == 1 and '"code": "invalid_request"' in r.stderr, r.stderr
    with chat_server() as model:
        register(world.services, "cli-replay", model.base_url, "sk-cli-replay-0123456789")
        first = cli(
            "evals", "run", "--reference-model", "cli-replay", "--tasks", "knowledge_original",
            "--task-limit", "knowledge_original=2", "--max-tokens", "32",
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        original = json.loads(first.stdout)
        again = cli("evals", "replay", original["id"])
        assert again.returncode == 0, again.stderr
        replay = json.loads(again.stdout)
    assert replay["replay_of"] == original["id"] and replay["state"] == "succeeded"
    assert (
        replay["config"]["tasks"][0]["dataset_sha256"]
        == (original["config"]["tasks"][0]["dataset_sha256"])
    )
    assert replay["config"]["tasks"][0]["samples"] == 2
