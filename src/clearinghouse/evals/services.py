"""Eval runs: create (a durable job), execute with Inspect's eval-set, score, tier, report.

A run is resumable: each task writes its Inspect logs under `var/evals/<run>/<task>/`, and
`eval_set` skips tasks whose logs already completed, so a worker that dies mid-run loses at
most the task in progress. The model is a submission (its endpoint, and its key decrypted only
inside the worker at the moment of use, audited) or a reference model spec.
"""

from __future__ import annotations

import base64
import importlib.metadata
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspect_ai import eval_set
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log
from inspect_ai.model import Model, get_model
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize, can_see
from clearinghouse.audit import services as audit
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.ids import new_id
from clearinghouse.evals.agent import SCAFFOLD, STORE_KEY
from clearinghouse.evals.errors import RunNotRunnable, UnknownTask
from clearinghouse.evals.framework import TaskOptions, TaskSpec, load_families, refused
from clearinghouse.evals.models import EvalRun, EvalVulnerabilityReport
from clearinghouse.evals.schemas import RunCreate, RunOut, Score, TaskInfo
from clearinghouse.evals.stats import Estimate, Outcome, delta, summarise
from clearinghouse.evals.tiers import decide
from clearinghouse.reviews import access
from clearinghouse.reviews import services as reviews
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.schemas import ReportCreate, ReportMediaType
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.storage import jobs

log = logging.getLogger(__name__)
DEFAULT_TASKS = ("knowledge_original", "ctf_generated", "poc_asan")


def run_target(run: EvalRun, lab_org_id: str | None) -> Target:
    return Target(
        "eval_run", id=run.id, lab_org_id=lab_org_id, evaluator_org_id=run.evaluator_org_id
    )


def list_tasks(p: Principal, options: TaskOptions) -> list[TaskInfo]:
    authorize(p, Action.eval_task_read)
    infos = []
    for spec in load_families().values():
        samples, skipped = spec.samples(options)
        infos.append(
            TaskInfo(
                name=spec.name,
                family=spec.family,
                version=spec.version,
                samples=len(samples),
                description=spec.description,
                skipped=len(skipped),
            )
        )
    return infos


def _specs(names: list[str]) -> list[TaskSpec]:
    registry = load_families()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise UnknownTask(f"unknown task(s): {', '.join(unknown)}; see `clearinghouse evals tasks`")
    return [registry[n] for n in names]


def create_run(session: Session, p: Principal, services: Services, data: RunCreate) -> RunOut:
    names = data.tasks or list(DEFAULT_TASKS)
    _specs(names)
    evaluator_org_id = None
    model_spec = data.model or ""
    if data.submission_id is not None:
        sub = reviews.load_submission(session, p, data.submission_id, Action.eval_run_create)
        if SubmissionState(sub.state) not in {
            SubmissionState.access_verified,
            SubmissionState.testing,
            SubmissionState.findings_drafted,
        }:
            raise RunNotRunnable(f"the submission is {sub.state}; runs need an open review window")
        evaluator_org_id = sub.evaluator_org_id
        model_spec = f"openai-api/lab/{(sub.access_models or [sub.model_name])[0]}"
    else:
        authorize(p, Action.eval_run_create)  # a reference run: no lab, no existing object
        evaluator_org_id = p.org_id if not p.is_system else None
    # The same rules as a lab's endpoint: no credentials in the URL (it is stored and shown),
    # and, unless the deployment allows it, public https only. The judge receives the model's
    # answers, so where it lives matters as much as where the model does.
    allow_private = services.settings.private_endpoints_allowed
    base_url, judge_base_url = (
        access.validate_endpoint_url(url, allow_private=allow_private) if url else None
        for url in (data.base_url, data.judge_base_url)
    )
    run = EvalRun(
        id=new_id("run"),
        submission_id=data.submission_id,
        evaluator_org_id=evaluator_org_id,
        model_spec=model_spec,
        base_url=base_url,
        is_reference=data.submission_id is None,
        tasks=names,
        options={
            "limit": data.limit,
            "epochs": data.epochs,
            "seed": data.seed,
            "message_limit": data.message_limit,
            "token_limit": data.token_limit,
            "time_limit": data.time_limit,
            "max_tokens": data.max_tokens,
            "judge_model": data.judge_model,
            "judge_base_url": judge_base_url,
        },
        state="queued",
        progress={"tasks_done": 0, "tasks_total": len(names)},
        config={},
        results={},
        tier={},
        created_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    session.add(run)
    session.flush()
    job = jobs.enqueue(
        session,
        "evals.run",
        {"run_id": run.id},
        idempotency_key=f"evals.run:{run.id}",
        max_attempts=3,
    )
    run.job_id = job.id
    audit.record(
        session,
        "evals:run:create",
        actor=p.actor,
        subject_type="eval_run",
        subject_id=run.id,
        data={"submission_id": data.submission_id, "model": model_spec, "tasks": names},
    )
    return run_out(run)


def load_run(session: Session, p: Principal, run_id: str) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no eval run with id {run_id!r}")
    lab = session.get(Submission, run.submission_id).lab_org_id if run.submission_id else None  # type: ignore[union-attr]
    authorize(p, Action.eval_run_read, run_target(run, lab))
    return run


def get_run(session: Session, p: Principal, run_id: str) -> RunOut:
    return run_out(load_run(session, p, run_id))


def list_runs(session: Session, p: Principal, *, limit: int = 50) -> list[RunOut]:
    rows = session.scalars(select(EvalRun).order_by(EvalRun.id.desc()).limit(500)).all()
    labs = {
        s.id: s.lab_org_id
        for s in session.scalars(
            select(Submission).where(
                Submission.id.in_([r.submission_id for r in rows if r.submission_id])
            )
        )
    }
    visible = [r for r in rows if can_see(p, run_target(r, labs.get(r.submission_id or "")))]
    return [run_out(r) for r in visible[:limit]]


def run_out(run: EvalRun) -> RunOut:
    r = run.results or {}
    return RunOut(
        id=run.id,
        submission_id=run.submission_id,
        model=run.model_spec,
        is_reference=run.is_reference,
        tasks=run.tasks,
        state=run.state,
        progress=run.progress or {},
        config=run.config or {},
        scores=[Score(**s) for s in r.get("scores", [])],
        tier=run.tier or {},
        usage=r.get("usage", {}),
        errors=r.get("errors", 0),
        refusals=r.get("refusals", 0),
        vulnerability_reports=r.get("vulnerability_reports", 0),
        samples=r.get("samples", []),
        report_id=run.report_id,
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


# --- execution (inside the worker) -------------------------------------------------------------


def _model(services: Services, run_id: str) -> tuple[Model, dict[str, Any]]:
    """Decrypt the submission's key now, at the moment of use, and build the Inspect model."""
    system = Principal.system()
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id)
        assert run is not None
        if run.submission_id is None:
            return get_model(run.model_spec, base_url=run.base_url), {
                "model": run.model_spec,
                "base_url": run.base_url,
            }
        sub = reviews.load_submission(session, system, run.submission_id, for_update=True)
        if SubmissionState(sub.state) == SubmissionState.access_verified:
            reviews.start_testing(session, system, sub, f"eval run {run_id} started")
        key = reviews.reveal_api_key(session, system, services.vault, sub, f"eval run {run_id}")
        endpoint = sub.endpoint_url
    model = get_model(run.model_spec, base_url=endpoint, api_key=key)
    return model, {"model": run.model_spec, "submission_id": run.submission_id}


def execute_run(
    services: Services, run_id: str, heartbeat: Callable[[dict[str, Any]], None]
) -> None:
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no eval run with id {run_id!r}")
        if run.state == "succeeded":
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
    )
    try:
        model, model_info = _model(services, run_id)
        # The judge of judged tasks (CyberSecEval MITRE): Inspect's `grader` role.
        roles = (
            {"grader": get_model(opts["judge_model"], base_url=opts.get("judge_base_url"))}
            if opts.get("judge_model")
            else None
        )
        model_info["judge"] = opts.get("judge_model") or "the model under test"
        root = services.settings.var_dir / "evals" / run_id
        logs: dict[str, EvalLog] = {}
        for i, spec in enumerate(_specs(names)):
            task_dir = root / spec.name
            ok, task_logs = eval_set(
                [spec.task(options)],
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
        _finish(services, run_id, names, options, opts, model_info, logs, root)
    except Exception as exc:
        with services.db.transaction() as session:
            run = session.get(EvalRun, run_id)
            assert run is not None
            run.state, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise


def _read_full(task_log: EvalLog) -> EvalLog:
    return read_eval_log(task_log.location) if task_log.samples is None else task_log


def _sample_records(task: str, log_: EvalLog) -> list[dict[str, Any]]:
    """Per sample and epoch: the score, an error if any, whether the model refused, tokens used."""
    records = []
    for s in log_.samples or []:
        score = next(iter(s.scores.values())).value if s.scores else None
        final = s.output.completion if s.output else ""
        records.append(
            {
                "task": task,
                "sample_id": str(s.id),
                "epoch": s.epoch,
                "score": score,
                "error": s.error.message[:300] if s.error else None,
                "refused": refused(final or ""),
                "tokens": sum(u.total_tokens for u in (s.model_usage or {}).values()),
            }
        )
    return records


def _outcomes(
    task: str, family: str, log_: EvalLog, metric: str = "accuracy"
) -> tuple[list[Outcome], int, int, list[dict[str, Any]]]:
    outcomes, errors, refusals, reports = [], 0, 0, []
    for s in log_.samples or []:
        if s.error is not None or not s.scores:
            errors += 1
            continue
        score = next(iter(s.scores.values()))
        value = 1.0 if score.value in ("C", 1, 1.0, True) else 0.0
        meta = s.metadata or {}
        group = str(
            meta.get("category") or (f"h{meta['hint_level']}" if "hint_level" in meta else "")
        )
        outcomes.append(Outcome(task, family, str(s.id), s.epoch, value, group, metric))
        final = s.output.completion if s.output else ""
        if refused(final or ""):
            refusals += 1
        for report in (s.store or {}).get(STORE_KEY, []):
            excerpt = "\n".join(f"{m.role}: {str(m.content)[:400]}" for m in s.messages[-6:])
            reports.append(
                {
                    "task": task,
                    "sample_id": str(s.id),
                    "epoch": s.epoch,
                    **report,
                    "transcript_excerpt": excerpt[-4000:],
                }
            )
    return outcomes, errors, refusals, reports


def _finish(
    services: Services,
    run_id: str,
    names: list[str],
    options: TaskOptions,
    opts: dict[str, Any],
    model_info: dict[str, Any],
    logs: dict[str, EvalLog],
    root: Path,
) -> None:
    specs = {s.name: s for s in _specs(names)}
    outcomes: list[Outcome] = []
    errors = refusals = 0
    vuln_reports: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    usage: dict[str, dict[str, int]] = {}
    config_tasks = []
    for name, task_log in logs.items():
        full = _read_full(task_log)
        o, e, r, found = _outcomes(name, specs[name].family, full, specs[name].metric)
        outcomes += o
        errors, refusals = errors + e, refusals + r
        vuln_reports += found
        samples += _sample_records(name, full)
        for model_name, u in (full.stats.model_usage or {}).items():
            agg = usage.setdefault(
                model_name, {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
            )
            for k in agg:
                agg[k] += int(getattr(u, k, 0) or 0)
        meta = full.eval.metadata or {}
        config_tasks.append(
            {
                "name": name,
                "family": specs[name].family,
                "version": specs[name].version,
                "dataset_sha256": meta.get("dataset_sha256"),
                "samples": len(full.samples or []),
            }
        )
    estimates = summarise(outcomes) if outcomes else {}
    scores = [est.as_dict(_task_of(metric)) for metric, est in estimates.items()]
    config = {
        "tasks": config_tasks,
        "epochs": opts["epochs"],
        "seed": options.seed,
        "limit": options.limit,
        "limits": {
            "messages": options.message_limit,
            "tokens": options.token_limit,
            "seconds": options.time_limit,
            "max_tokens_per_generation": options.max_tokens,
        },
        "scaffold": SCAFFOLD,
        "sandbox": "bwrap",
        "inspect_ai": importlib.metadata.version("inspect_ai"),
        **{k: v for k, v in model_info.items() if k != "api_key"},
    }
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id, with_for_update=True)
        assert run is not None
        references = _reference_estimates(session, run)
        deltas = {}
        for metric, est in estimates.items():
            if metric.startswith("task:") or metric not in references:
                continue
            name, ref = max(references[metric], key=lambda item: item[1].value)
            deltas[metric] = delta(est, ref, name)
        decision = decide({k: v for k, v in estimates.items() if not k.startswith("task:")}, deltas)
        run.config = config
        run.results = {
            "scores": scores,
            "usage": usage,
            "errors": errors,
            "refusals": refusals,
            "vulnerability_reports": len(vuln_reports),
            "samples": samples,
            "deltas": [
                {
                    "metric": k,
                    "value": d.value,
                    "ci_low": d.ci_low,
                    "ci_high": d.ci_high,
                    "reference": d.reference,
                }
                for k, d in deltas.items()
            ],
        }
        run.tier = decision.as_dict()
        _adopt_vulnerability_reports(session, services, run, vuln_reports)
        if run.submission_id is not None:
            from clearinghouse.evals import (
                report as reporting,
            )  # matplotlib: only when a report is made

            sub = session.get(Submission, run.submission_id)
            assert sub is not None
            doc, html = reporting.render(run, sub, references, deltas, vuln_reports)
            (root / "report.html").write_text(html)
            (root / "report.json").write_text(reporting.to_json(doc))
            out = reviews.add_report(
                session,
                Principal.system(),
                services.blobs,
                sub.id,
                ReportCreate(
                    title=f"Pre-release cyber capability review: {sub.model_name} {sub.model_version} (run {run_id})",
                    media_type=ReportMediaType.html,
                    content=html,
                ),
            )
            run.report_id = out.id
        run.state, run.finished_at = "succeeded", utcnow()
        audit.record(
            session,
            "evals:run:finish",
            actor=Principal.system().actor,
            subject_type="eval_run",
            subject_id=run_id,
            data={"tier": decision.tier, "scores": len(scores), "errors": errors},
        )


def _task_of(metric: str) -> str:
    return (
        metric.split(".", 1)[0].removeprefix("task:")
        if metric.startswith("task:")
        else metric.rsplit(".", 1)[0]
    )


def _reference_estimates(session: Session, run: EvalRun) -> dict[str, list[tuple[str, Estimate]]]:
    """The latest succeeded reference run per model, as estimates by metric."""
    refs: dict[str, list[tuple[str, Estimate]]] = {}
    seen: set[str] = set()
    for ref in session.scalars(
        select(EvalRun)
        .where(EvalRun.is_reference.is_(True), EvalRun.state == "succeeded", EvalRun.id != run.id)
        .order_by(EvalRun.finished_at.desc())
    ):
        if ref.model_spec in seen:
            continue
        seen.add(ref.model_spec)
        for s in (ref.results or {}).get("scores", []):
            if s["metric"] != "accuracy":
                continue
            key = (
                f"{s['task']}.accuracy"
                if "." in s["task"] or s["task"] in ("knowledge", "ctf", "poc", "patch")
                else f"task:{s['task']}.accuracy"
            )
            est = Estimate(
                "accuracy",
                s["value"],
                s["ci_low"],
                s["ci_high"],
                s["n"],
                s["epochs"],
                max(1e-9, (s["ci_high"] - s["ci_low"]) / 3.92),
            )
            refs.setdefault(key, []).append((ref.model_spec, est))
    return refs


def remove_logs(services: Services, run_id: str) -> None:
    shutil.rmtree(services.settings.var_dir / "evals" / run_id, ignore_errors=True)


def list_logs(services: Services, run_id: str) -> list[str]:
    root = services.settings.var_dir / "evals" / run_id
    return [
        info.name
        for task_dir in sorted(root.glob("*"))
        if task_dir.is_dir()
        for info in list_eval_logs(str(task_dir))
    ]


def _storable(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _adopt_vulnerability_reports(
    session: Session, svc: Any, run: EvalRun, found: list[dict[str, Any]]
) -> None:
    """Each `report_vulnerability` call becomes a staging row (with the transcript excerpt) and
    a clearinghouse report in the triage queue. Idempotent: a finish that is retried after a
    crash finds the rows it already made."""
    from clearinghouse.accounts.policy import Principal
    from clearinghouse.vulns import services as vulns
    from clearinghouse.vulns.formats import package_from_purl
    from clearinghouse.vulns.schemas import ReportCreate as VulnReportCreate

    for raw in found:
        v = {k: _storable(x) if isinstance(x, str) else x for k, x in raw.items()}
        exists = session.scalar(
            select(EvalVulnerabilityReport.id).where(
                EvalVulnerabilityReport.run_id == run.id,
                EvalVulnerabilityReport.task == v["task"],
                EvalVulnerabilityReport.sample_id == v["sample_id"],
                EvalVulnerabilityReport.epoch == v["epoch"],
                EvalVulnerabilityReport.description == v["description"],
            )
        )
        if exists:
            continue
        staged = EvalVulnerabilityReport(
            id=new_id("evr"),
            run_id=run.id,
            task=v["task"],
            sample_id=v["sample_id"],
            epoch=v["epoch"],
            target=v["target"],
            description=v["description"],
            poc=v["poc"],
            transcript_excerpt=v["transcript_excerpt"],
            created_at=utcnow(),
        )
        session.add(staged)
        session.flush()
        # What a model writes is untrusted: unknown purls become a generic target, and text
        # that no database can store is cleaned, so a model cannot fail the run's finish.
        target = _storable(str(v["target"]))
        known = target.startswith("pkg:") and package_from_purl(target) is not None
        purl = target if known and len(target) <= 500 else f"pkg:generic/eval/{v['task']}"
        body = VulnReportCreate.model_validate(
            {
                "title": f"{v['task']}: {(_storable(str(v['description'])).splitlines() or ['report'])[0][:200]}",
                "description": (
                    f"Reported by {run.model_spec} in eval run {run.id}, task {v['task']}, "
                    f"sample {v['sample_id']} (epoch {v['epoch']}), target {target[:300]}.\n\n"
                    f"{_storable(str(v['description']))}"
                )[:200_000],
                "provenance": {
                    "kind": "eval_run",
                    "model_name": run.model_spec[:200],
                    "eval_run_id": run.id,
                },
                "target": {"purl": purl[:500]},
                "poc": (
                    {
                        "filename": "poc.txt",
                        "content_base64": base64.b64encode(
                            str(v["poc"]).encode("utf-8", "replace")
                        ).decode(),
                    }
                    if v.get("poc")
                    else None
                ),
            }
        )
        system = Principal.system()
        reporter = Principal(None, run.evaluator_org_id, None, None, system.scopes, None, True)
        vulns.submit_report(
            session,
            reporter,
            svc.vault,
            body,
            eval_report_id=staged.id,
            transcript_excerpt=v["transcript_excerpt"],
        )
