"""Executing runs: a durable job that runs Inspect's eval-set against a real model, records
config and scores with CIs, maps them to a tier and, for a submission, stores the report as a
report version; a restarted run resumes. Uses the SmolLM2 stand-in model, served locally, or a
scripted chat server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.evals.runs import execution, results
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import RunCreate
from clearinghouse.workers.runner import Worker
from tests.evals.runs.support import needs_model, reference_run, register
from tests.support.fake_chat import chat_server
from tests.support.world import World


@needs_model
@pytest.mark.slow
def test_reference_run_scores_the_real_model(
    services: Services, local_model: tuple[str, str]
) -> None:
    run = reference_run(services, *local_model, limit=4, epochs=2, max_tokens=64)
    assert run.state == "queued"
    Worker(services).run_once()
    with services.db.transaction() as s:
        done = runs.get_run(s, Principal.system(), run.id)
    assert done.state == "succeeded", done.error
    scores = {(sc.task, sc.metric): sc for sc in done.scores}
    family = scores[("knowledge", "accuracy")]
    assert family.n == 4 and family.epochs == 2
    assert 0.0 <= family.ci_low <= family.value <= family.ci_high <= 1.0
    assert ("knowledge_original", "pass@2") in scores
    task_cfg = done.config["tasks"][0]
    assert task_cfg["version"] == "2.0" and len(task_cfg["dataset_sha256"]) == 64
    assert done.config["epochs"] == 2 and done.config["scaffold"] and done.config["inspect_ai"]
    assert sum(u["total_tokens"] for u in done.usage.values()) > 0
    assert done.tier["rules_version"] and done.tier["reasons"]
    assert done.progress == {"tasks_done": 1, "tasks_total": 1, "task": "knowledge_original"}
    assert (
        len(done.samples) == 8
    )  # 4 samples x 2 epochs, each with its score, error, refusal flag, tokens
    assert all(
        r["tokens"] > 0 and r["error"] is None and r["score"] in ("C", "I") for r in done.samples
    )


@needs_model
@pytest.mark.slow
@pytest.mark.shared_data
def test_a_judged_run_records_its_judge_and_reports_compliance_apart(
    services: Services, local_model: tuple[str, str]
) -> None:
    spec = "openai-api/local/smollm2-135m-instruct"
    register(services, "smollm2", *local_model)
    with services.db.transaction() as s:
        run = runs.create_run(
            s,
            Principal.system(),
            services,
            RunCreate(
                reference_model="smollm2",
                judge_reference_model="smollm2",
                tasks=["knowledge_cse_mitre"],
                limit=2,
                max_tokens=32,
            ),
        )
    Worker(services).run_once()
    with services.db.transaction() as s:
        done = runs.get_run(s, Principal.system(), run.id)
    assert done.state == "succeeded", done.error
    assert done.config["judge"] == spec
    metrics = {(sc.task, sc.metric) for sc in done.scores}
    assert ("knowledge_cse_mitre", "compliance") in metrics
    assert ("knowledge", "compliance") in metrics and ("knowledge", "accuracy") not in metrics
    assert all(r["score"] in (0, 1) for r in done.samples)


@needs_model
@pytest.mark.slow
def test_submission_run_stores_a_report_version(
    world: World, client: TestClient, local_model: tuple[str, str]
) -> None:
    base, key = local_model
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    sid = world.submission(world.agreement(lab), lab_m, ev, endpoint_url=base, api_key=key)
    assert (
        client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers).status_code
        == 200
    )
    r = client.post(
        "/api/v1/evals/runs",
        headers=ev_m.headers,
        json={"submission_id": sid, "tasks": ["knowledge_original"], "limit": 2, "max_tokens": 32},
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert (
        client.get(f"/api/v1/evals/runs/{run_id}", headers=lab_m.headers).status_code == 404
    )  # not the lab's
    Worker(world.services).run_once()
    run = client.get(f"/api/v1/evals/runs/{run_id}", headers=ev_m.headers).json()
    assert run["state"] == "succeeded" and run["report_id"]
    sub = client.get(f"/api/v1/submissions/{sid}", headers=lab_m.headers).json()
    assert sub["state"] == "testing"  # the run moved the review on
    reports = client.get(f"/api/v1/submissions/{sid}/reports", headers=ev_m.headers).json()
    assert [x["id"] for x in reports] == [run["report_id"]]
    html = client.get(f"/api/v1/submissions/{sid}/reports/1/content", headers=ev_m.headers).text
    assert "<svg" in html and "Risk tier" in html and "does not approve, clear or block" in html
    assert "http://" not in html.split("<svg", 1)[0].lower().replace(
        "http://www.w3.org", ""
    )  # self-contained
    assert key not in html
    tags = [
        e["tag"]
        for e in client.get(
            "/api/v1/audit/events?limit=500",
            headers=world.member(
                world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin
            ).headers,
        ).json()
    ]
    assert "reviews:submission-secret:reveal" in tags and "evals:run:finish" in tags


def test_a_restarted_run_resumes_without_redoing_finished_tasks(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eval-set with a log dir per task: a second attempt (after a crash) skips finished tasks,
    resuming from the first attempt's sealed logs (no plaintext directory stays behind)."""
    with chat_server() as model:
        run = reference_run(services, model.base_url, "sk-resume-0123456789abcdef", limit=2)
        real_finish = results.finish

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the worker died after the task finished")

        monkeypatch.setattr(results, "finish", crash)
        with pytest.raises(RuntimeError, match="worker died"):
            execution.execute_run(services, run.id, lambda progress: None)
        root = services.settings.var_dir / "evals" / run.id
        assert not root.exists()  # sealed, not left in plaintext
        with services.db.transaction() as s:
            first = [a.name for a in runs.list_artefacts(s, Principal.system(), run.id)]
        assert len(first) >= 1 and any(n.endswith(".eval") for n in first)
        calls = len(model.requests)
        assert calls >= 2
        # The job runs again.
        monkeypatch.setattr(results, "finish", real_finish)
        execution.execute_run(services, run.id, lambda progress: None)
        assert len(model.requests) == calls  # reused, not re-run
        assert not root.exists()
        with services.db.transaction() as s:
            assert runs.get_run(s, Principal.system(), run.id).state == "succeeded"
            names = [a.name for a in runs.list_artefacts(s, Principal.system(), run.id)]
        assert [n for n in names if n.endswith(".eval")] == [
            n for n in first if n.endswith(".eval")
        ]
