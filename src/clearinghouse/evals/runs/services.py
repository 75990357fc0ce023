"""Eval runs as objects: create one (a durable job), load, list and show runs under the policy,
the policy-checked reads of a run's sealed artefacts, the job that executes a run, and the
directory of runs that vulns' intake asks (`RUNS`).

A run targets a submission (its endpoint, and its key decrypted only inside the worker) or a
registered reference model (`evals/reference.py`); never a model spec or URL a caller typed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.evals import reference as references
from clearinghouse.evals.battery.framework import TaskOptions, TaskSpec, new_seed
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.evals.errors import RawModelRefused, RunNotRunnable, UnknownTask
from clearinghouse.evals.models import EvalRun, EvalVulnerabilityReport, ReferenceModel
from clearinghouse.evals.runs import artefacts
from clearinghouse.evals.schemas import ArtefactOut, RunCreate, RunOut, Score, TaskInfo
from clearinghouse.reviews import submissions
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.storage import jobs
from clearinghouse.storage.services import Services
from clearinghouse.vulns.reports import EvalRunRef

DEFAULT_TASKS = ("knowledge_original", "ctf_generated", "poc_asan")


def target(session: Session, run: EvalRun) -> Target:
    """The facts about a run that the policy decides on: its lab (of a submission run) and its
    evaluator organisation."""
    lab = session.get(Submission, run.submission_id).lab_org_id if run.submission_id else None  # type: ignore[union-attr]
    return Target("eval_run", id=run.id, lab_org_id=lab, evaluator_org_id=run.evaluator_org_id)


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


def specs(names: list[str]) -> list[TaskSpec]:
    """The battery's tasks by name, in order; an unknown name is refused."""
    registry = load_families()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise UnknownTask(f"unknown task(s): {', '.join(unknown)}; see `clearinghouse evals tasks`")
    return [registry[n] for n in names]


def create_run(
    session: Session,
    p: Principal,
    services: Services,
    data: RunCreate,
    *,
    replay_of: str | None = None,
) -> RunOut:
    raw = data.raw_fields()
    if raw:  # for every caller, before anything else: the worker would send its keys there
        raise RawModelRefused(
            f"{', '.join(raw)} refused: a run targets a submission or a registered reference "
            "model (`reference_model`, `judge_reference_model`); a coordinator registers them "
            "at POST /api/v1/reference-models"
        )
    names = data.tasks or list(DEFAULT_TASKS)
    specs(names)
    stray = sorted(set(data.task_limits) - set(names))
    if stray:
        raise UnknownTask(f"task_limits names task(s) the run does not have: {', '.join(stray)}")
    evaluator_org_id = None
    ref: ReferenceModel | None = None
    if data.submission_id is not None:
        sub = submissions.load_submission(session, p, data.submission_id, Action.eval_run_create)
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
            "task_limits": dict(data.task_limits),
            "epochs": data.epochs,
            "seed": data.seed if data.seed is not None else new_seed(),
            "max_submissions": data.max_submissions,
            "message_limit": data.message_limit,
            "token_limit": data.token_limit,
            "time_limit": data.time_limit,
            "max_tokens": data.max_tokens,
            **({"replay_of": replay_of} if replay_of else {}),
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
            **({"replay_of": replay_of} if replay_of else {}),
        },
    )
    return run_out(run)


# The options a run records and a replay repeats, with the defaults of runs recorded before
# an option existed.
_REPLAYED: dict[str, Any] = {
    "limit": None,
    "task_limits": {},
    "epochs": 1,
    "max_submissions": 3,
    "message_limit": 30,
    "token_limit": 200_000,
    "time_limit": 900,
    "max_tokens": 1024,
}


def replay_run(session: Session, p: Principal, services: Services, run_id: str) -> RunOut:
    """A new run from a run's recorded config: the same target (submission or reference model),
    judge, tasks, seed and limits, so the same samples in the same order (the run's config
    records each task's dataset digest to check it). Whoever may read the run and create a run
    for its target may replay it; a submission's replay needs its review window still open."""
    run = load_run(session, p, run_id)
    opts = dict(run.options or {})
    if opts.get("seed") is None:
        raise RunNotRunnable(f"run {run_id} recorded no seed: it cannot be replayed")
    data = RunCreate(
        submission_id=run.submission_id,
        reference_model=run.reference_model_id if run.submission_id is None else None,
        judge_reference_model=run.judge_reference_model_id,
        tasks=list(run.tasks),
        seed=opts["seed"],
        **{k: opts.get(k, default) for k, default in _REPLAYED.items()},
    )
    return create_run(session, p, services, data, replay_of=run.id)


def load_run(
    session: Session, p: Principal, run_id: str, action: Action = Action.eval_run_read
) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no eval run with id {run_id!r}")
    authorize(p, action, target(session, run))
    return run


def get_run(session: Session, p: Principal, run_id: str) -> RunOut:
    return run_out(load_run(session, p, run_id))


def list_runs(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[RunOut]:
    """The runs the caller may see, filtered in SQL (policy's list scope) and paged by id."""
    return scoped_page(session, p, "eval_run", EvalRun, run_out, limit=limit, cursor=cursor)


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
        options=run.options or {},
        replay_of=(run.options or {}).get("replay_of"),
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


def list_artefacts(session: Session, p: Principal, run_id: str) -> list[ArtefactOut]:
    """The sealed artefacts of a run (names, sizes, checksums): the run's readers may list."""
    run = load_run(session, p, run_id)
    return artefacts.list_artefacts(session, run.id)


def export_logs(
    session: Session, p: Principal, services: Services, run_id: str
) -> list[tuple[str, bytes]]:
    """Decrypt a run's logs and report files (policy: eval_log_export), audited."""
    run = load_run(session, p, run_id)
    return artefacts.export(session, p, services.blobs, run, target(session, run))


def job_of(session: Session, p: Principal, run_id: str) -> str:
    """The durable job that executes the run: `evals run --wait` runs this job and no other."""
    run = load_run(session, p, run_id)
    if run.job_id is None:
        raise RunNotRunnable(f"eval run {run_id} has no job to execute")
    return run.job_id


class RunDirectory:
    """The eval runs as vulns may know them (`vulns.reports.EvalRuns`): whether a run exists and
    whose it is, and which run staged a finding. Facts only: the reporter's rights are checked
    by vulns, against these."""

    def find(self, session: Session, run_id: str) -> EvalRunRef | None:
        run = session.get(EvalRun, run_id)
        return None if run is None else EvalRunRef(run.id, run.evaluator_org_id)

    def finding_run(self, session: Session, finding_id: str) -> str | None:
        return session.scalar(
            select(EvalVulnerabilityReport.run_id).where(EvalVulnerabilityReport.id == finding_id)
        )


RUNS = RunDirectory()
