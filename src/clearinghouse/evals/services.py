"""Eval runs: create (a durable job), execute with Inspect's eval-set, score, tier, report.

A run is resumable: each task writes its Inspect logs under `var/evals/<run>/<task>/`, and
`eval_set` skips tasks whose logs already completed, so a worker that dies mid-run loses at
most the task in progress. When the run finishes the logs are sealed into the blob store and
the directory is removed (`artefacts`). The model is a submission (its endpoint, and its key
decrypted only inside the worker at the moment of use, audited) or a registered reference model
(`reference`, the same for its key); never a model spec or URL a caller typed.
"""

from __future__ import annotations

import base64
import importlib.metadata
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspect_ai import eval_set
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import Model
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.core.pagination import Page
from clearinghouse.evals import artefacts
from clearinghouse.evals import reference as references
from clearinghouse.evals.analysis.stats import Estimate, Outcome, delta, summarise
from clearinghouse.evals.analysis.tiers import decide
from clearinghouse.evals.battery.agent import SCAFFOLD, STORE_KEY
from clearinghouse.evals.battery.framework import TaskOptions, TaskSpec, refused
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.evals.errors import RawModelRefused, RunNotRunnable, UnknownTask
from clearinghouse.evals.modelaccess import inspect_model, minimal_environment
from clearinghouse.evals.models import EvalRun, EvalVulnerabilityReport, ReferenceModel
from clearinghouse.evals.schemas import ArtefactOut, RunCreate, RunOut, Score, TaskInfo
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
    raw = data.raw_fields()
    if raw:  # for every caller, before anything else: the worker would send its keys there
        raise RawModelRefused(
            f"{', '.join(raw)} refused: a run targets a submission or a registered reference "
            "model (`reference_model`, `judge_reference_model`); a coordinator registers them "
            "at POST /api/v1/reference-models"
        )
    names = data.tasks or list(DEFAULT_TASKS)
    _specs(names)
    evaluator_org_id = None
    ref: ReferenceModel | None = None
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
        assert data.reference_model is not None
        authorize(p, Action.eval_run_create)  # a reference run: no lab, no existing object
        ref = references.resolve(session, p, data.reference_model)
        evaluator_org_id = p.org_id if not p.is_system else None
        model_spec = ref.model_spec
    # The judge receives the model's answers: it too must be a registered reference model.
    judge = (
        references.resolve(session, p, data.judge_reference_model)
        if data.judge_reference_model is not None
        else None
    )
    run = EvalRun(
        id=new_id("run"),
        submission_id=data.submission_id,
        evaluator_org_id=evaluator_org_id,
        model_spec=model_spec,
        base_url=ref.base_url if ref else None,
        is_reference=data.submission_id is None,
        reference_model_id=ref.id if ref else None,
        judge_reference_model_id=judge.id if judge else None,
        tasks=names,
        options={
            "limit": data.limit,
            "epochs": data.epochs,
            "seed": data.seed,
            "message_limit": data.message_limit,
            "token_limit": data.token_limit,
            "time_limit": data.time_limit,
            "max_tokens": data.max_tokens,
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
        AuditTag.EVALS_RUN_CREATE,
        actor=p.actor,
        subject_type="eval_run",
        subject_id=run.id,
        data={
            "submission_id": data.submission_id,
            "reference_model_id": run.reference_model_id,
            "judge_reference_model_id": run.judge_reference_model_id,
            "model": model_spec,
            "tasks": names,
        },
    )
    return run_out(run)


def load_run(
    session: Session, p: Principal, run_id: str, action: Action = Action.eval_run_read
) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no eval run with id {run_id!r}")
    authorize(p, action, _target(session, run))
    return run


def _target(session: Session, run: EvalRun) -> Target:
    lab = session.get(Submission, run.submission_id).lab_org_id if run.submission_id else None  # type: ignore[union-attr]
    return run_target(run, lab)


def get_run(session: Session, p: Principal, run_id: str) -> RunOut:
    return run_out(load_run(session, p, run_id))


def list_runs(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[RunOut]:
    """The runs the caller may see, filtered in SQL (policy's list scope) and paged by id."""
    return references.scoped_page(
        session, p, "eval_run", EvalRun, run_out, limit=limit, cursor=cursor
    )


def run_out(run: EvalRun) -> RunOut:
    r = run.results or {}
    return RunOut(
        id=run.id,
        submission_id=run.submission_id,
        model=run.model_spec,
        reference_model_id=run.reference_model_id,
        judge_reference_model_id=run.judge_reference_model_id,
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
        sub = reviews.load_submission(session, system, run.submission_id, for_update=True)
        if SubmissionState(sub.state) == SubmissionState.access_verified:
            reviews.start_testing(session, system, sub, f"eval run {run_id} started")
        key = reviews.reveal_api_key(session, system, services.vault, sub, f"eval run {run_id}")
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
    _finish(services, run_id, names, options, opts, model_info, logs, root)


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
        baselines = _reference_estimates(session, run)
        deltas = {}
        for metric, est in estimates.items():
            if metric.startswith("task:") or metric not in baselines:
                continue
            name, ref = max(baselines[metric], key=lambda item: item[1].value)
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
        adopt_vulnerability_reports(session, services, run, vuln_reports)
        if run.submission_id is not None:
            from clearinghouse.evals.analysis import report as reporting  # matplotlib: on use

            sub = session.get(Submission, run.submission_id)
            assert sub is not None
            doc, html = reporting.render(run, sub, baselines, deltas, vuln_reports)
            # Never written to disk: the HTML becomes a sealed report version, the JSON a
            # sealed artefact of the run.
            artefacts.seal_bytes(
                session,
                services.blobs,
                run_id,
                "report.json",
                reporting.to_json(doc).encode(),
                "report_json",
            )
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
        # The logs become sealed artefacts in the transaction that marks the run succeeded;
        # the plaintext directory is removed once it commits.
        artefacts.seal_directory(session, services.blobs, run_id, root)
        run.state, run.finished_at = "succeeded", utcnow()
        audit.record(
            session,
            AuditTag.EVALS_RUN_FINISH,
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


def list_artefacts(session: Session, p: Principal, run_id: str) -> list[ArtefactOut]:
    """The sealed artefacts of a run (names, sizes, checksums): the run's readers may list."""
    run = load_run(session, p, run_id)
    return artefacts.list_artefacts(session, run.id)


def export_logs(
    session: Session, p: Principal, services: Services, run_id: str
) -> list[tuple[str, bytes]]:
    """Decrypt a run's logs and report files (policy: eval_log_export), audited."""
    run = load_run(session, p, run_id)
    return artefacts.export(session, p, services.blobs, run, _target(session, run))


def _storable(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def adopt_vulnerability_reports(
    session: Session, svc: Any, run: EvalRun, found: list[dict[str, Any]]
) -> None:
    """Each `report_vulnerability` call becomes a staging row (with the transcript excerpt) and
    a clearinghouse report in the triage queue. Idempotent: a finish that is retried after a
    crash finds the rows it already made."""
    from clearinghouse.vulns import reports as vulns
    from clearinghouse.vulns.purls import package_from_purl
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
            poc="",
            transcript_excerpt="",
            poc_sealed_id=svc.vault.seal_text(
                session, str(v["poc"]), purpose="eval_vulnerability_report:poc"
            ).id,
            excerpt_sealed_id=svc.vault.seal_text(
                session,
                str(v["transcript_excerpt"]),
                purpose="eval_vulnerability_report:transcript_excerpt",
            ).id,
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
        # Filed in the evaluator's name, with an evaluator member's rights there (not the
        # system's); a run with no evaluator organisation files as the system.
        reporter = (
            Principal.on_behalf_of(
                run.evaluator_org_id, OrgKind.evaluator, f"eval run {run.id} found it"
            )
            if run.evaluator_org_id is not None
            else Principal.system()
        )
        vulns.submit_report(
            session,
            reporter,
            svc.vault,
            body,
            # The transcript stays sealed with the run: the report links to it by id.
            eval_report_id=staged.id,
        )
