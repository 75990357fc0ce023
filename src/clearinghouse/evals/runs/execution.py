"""Executing a run inside the worker: build its models, run each task with Inspect's eval-set,
record progress, and hand the logs to `results`.

A run is resumable: each task writes its Inspect logs under `var/evals/<run>/<task>/`, and
eval-set skips tasks whose logs already completed, so a worker that dies mid-run loses at most
the task in progress. A failed attempt's logs are sealed (`artefacts`) and restored by the
next attempt; the plaintext directory never outlives an attempt. Keys are decrypted here, at
the moment of use (audited), and the worker's own provider credentials are removed from its
environment for the run's duration (`modelaccess`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from inspect_ai import eval_set
from inspect_ai.log import EvalLog
from inspect_ai.model import Model
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.evals import reference as references
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.errors import RunNotRunnable
from clearinghouse.evals.models import EvalRun, ReferenceModel
from clearinghouse.evals.runs import artefacts, results
from clearinghouse.evals.runs.modelaccess import inspect_model, minimal_environment
from clearinghouse.evals.runs.services import specs
from clearinghouse.reviews import access, submissions, transitions
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.storage.services import Services


def _reference(
    session: Session, services: Services, ref_id: str, run_id: str
) -> tuple[Model, ReferenceModel]:
    rm = session.get(ReferenceModel, ref_id)
    if rm is None:
        raise RunNotRunnable(f"reference model {ref_id!r} no longer exists")
    key = references.reveal_api_key(
        session, Principal.system(), services.vault, rm, f"eval run {run_id}"
    )
    model = inspect_model(
        rm.model_spec, base_url=rm.base_url, api_key=key, policy=_policy(services)
    )
    return model, rm


def _policy(services: Services) -> OutboundPolicy:
    return OutboundPolicy.from_settings(services.settings)


def _models(services: Services, run_id: str) -> tuple[Model, Model | None, dict[str, Any]]:
    """Decrypt the keys now, at the moment of use, and build the model under test and the
    judge: a submission (its endpoint and key) or a registered reference model, nothing else."""
    system = Principal.system()
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id)
        assert run is not None
        judge: Model | None = None
        info: dict[str, Any] = {"judge": "the model under test"}
        if run.judge_reference_model_id is not None:
            judge, jrm = _reference(session, services, run.judge_reference_model_id, run_id)
            info["judge"] = jrm.model_spec
            info["judge_reference_model"] = jrm.name
        if run.submission_id is None:
            if run.reference_model_id is None:  # a run queued before reference models existed
                raise RunNotRunnable(
                    "this run names no registered reference model; raw model specs are refused"
                )
            model, rm = _reference(session, services, run.reference_model_id, run_id)
            return model, judge, {**info, "model": rm.model_spec, "reference_model": rm.name}
        sub = submissions.load_submission(session, system, run.submission_id, for_update=True)
        if SubmissionState(sub.state) == SubmissionState.access_verified:
            transitions.start_testing(session, system, sub, f"eval run {run_id} started")
        key = access.reveal_api_key(session, system, services.vault, sub, f"eval run {run_id}")
        endpoint = sub.endpoint_url
        if endpoint is None:
            raise RunNotRunnable("the submission has no endpoint to run against")
    model = inspect_model(run.model_spec, base_url=endpoint, api_key=key, policy=_policy(services))
    return model, judge, {**info, "model": run.model_spec, "submission_id": run.submission_id}


def execute_run(
    services: Services, run_id: str, heartbeat: Callable[[dict[str, Any]], None]
) -> None:
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no eval run with id {run_id!r}")
        if run.state == "succeeded":
            # Finished earlier; a crash may have left the plaintext directory behind.
            artefacts.remove_plaintext(services.settings.var_dir, run_id)
            return
        sub = session.get(Submission, run.submission_id) if run.submission_id else None
        if sub is not None and sub.purged_at is not None:
            # Retention destroyed the submission's confidential content: what a crashed attempt
            # left on disk is removed, never sealed anew, and the run does not start again.
            artefacts.remove_plaintext(services.settings.var_dir, run_id)
            run.state, run.error = "failed", "the submission's confidential content was purged"
            return
        run.state, run.started_at, run.error = "running", run.started_at or utcnow(), None
        names, opts = list(run.tasks), dict(run.options)
    options = TaskOptions(
        seed=opts["seed"],
        limit=opts["limit"],
        shared_data=services.settings.shared_data,
        message_limit=opts["message_limit"],
        token_limit=opts["token_limit"],
        time_limit=opts["time_limit"],
        max_tokens=opts.get("max_tokens"),
        max_submissions=opts.get("max_submissions", 3),
    )
    root = artefacts.run_dir(services.settings.var_dir, run_id)
    try:
        with services.db.transaction() as session:  # an earlier attempt's logs, to resume
            artefacts.restore_logs(session, services.blobs, run_id, root)
        with minimal_environment(services.settings.var_dir / "inspect") as removed:
            model, judge, model_info = _models(services, run_id)
            model_info["environment_removed"] = removed
            _run_tasks(services, run_id, names, options, opts, model, judge, model_info, heartbeat)
    except Exception as exc:
        with services.db.transaction() as session:
            run = session.get(EvalRun, run_id)
            assert run is not None
            run.state, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            # A failed attempt's logs are sealed too (a retry restores them to resume).
            artefacts.seal_directory(session, services.blobs, run_id, root)
        artefacts.remove_plaintext(services.settings.var_dir, run_id)
        raise
    artefacts.remove_plaintext(services.settings.var_dir, run_id)


def _run_tasks(
    services: Services,
    run_id: str,
    names: list[str],
    options: TaskOptions,
    opts: dict[str, Any],
    model: Model,
    judge: Model | None,
    model_info: dict[str, Any],
    heartbeat: Callable[[dict[str, Any]], None],
) -> None:
    # The judge of judged tasks (CyberSecEval MITRE): Inspect's `grader` role. Without a
    # registered judge the model under test judges itself (never a model from the environment).
    roles = {"grader": judge or model}
    root = artefacts.run_dir(services.settings.var_dir, run_id)
    logs: dict[str, EvalLog] = {}
    task_limits: dict[str, int] = opts.get("task_limits") or {}
    for i, spec in enumerate(specs(names)):
        task_dir = root / spec.name
        task_options = replace(options, limit=task_limits.get(spec.name, options.limit))
        ok, task_logs = eval_set(
            [spec.task(task_options)],
            log_dir=str(task_dir),
            model=model,
            epochs=opts["epochs"],
            display="none",
            retry_attempts=1,
            log_format="eval",
            model_roles=roles,
            # No control endpoint: Inspect would otherwise open a local socket through
            # which anyone on the host could query and steer a run of an unreleased
            # model. Runs are steered through the job system, which audits.
            ctl_server=False,
            # No sample buffer: it would hold the transcript in a plaintext database beside
            # the logs; the sealed logs are what is kept.
            log_realtime=False,
        )
        if not ok or not task_logs:
            raise RuntimeError(
                f"task {spec.name} did not complete: {task_logs[0].error if task_logs else 'no log'}"
            )
        logs[spec.name] = task_logs[0]
        progress = {"tasks_done": i + 1, "tasks_total": len(names), "task": spec.name}
        heartbeat(progress)
        with services.db.transaction() as session:
            session.get(EvalRun, run_id).progress = progress  # type: ignore[union-attr]
    results.finish(services, run_id, names, options, opts, model_info, logs, root)
