"""The results of a run: per-sample records and outcomes read from its Inspect logs, scores
with confidence intervals, deltas against the reference runs, the tier, the report of a
submission run, and the vulnerabilities the model reported, all recorded in the transaction
that marks the run succeeded (with its logs sealed)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, read_eval_log
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.evals.analysis.comparability import Reference
from clearinghouse.evals.analysis.pipeline import analyse
from clearinghouse.evals.analysis.stats import Estimate, Outcome, cluster_id
from clearinghouse.evals.battery.agent import SCAFFOLD, STORE_KEY
from clearinghouse.evals.battery.families.baselines import blind_baselines
from clearinghouse.evals.battery.framework import TaskOptions, refused
from clearinghouse.evals.models import EvalRun, EvalVulnerabilityReport
from clearinghouse.evals.runs import artefacts
from clearinghouse.evals.runs.services import RUNS, specs
from clearinghouse.reviews import reports as review_reports
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.schemas import ReportCreate, ReportMediaType
from clearinghouse.storage.services import Services
from clearinghouse.vulns.intake import findings


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
                "cluster": cluster_id(str(s.id), s.metadata),
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
        outcomes.append(
            Outcome(
                task,
                family,
                str(s.id),
                s.epoch,
                value,
                group,
                metric,
                cluster=cluster_id(str(s.id), meta),
            )
        )
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


def finish(
    services: Services,
    run_id: str,
    names: list[str],
    options: TaskOptions,
    opts: dict[str, Any],
    model_info: dict[str, Any],
    logs: dict[str, EvalLog],
    root: Path,
) -> None:
    by_name = {s.name: s for s in specs(names)}
    outcomes: list[Outcome] = []
    errors = refusals = 0
    vuln_reports: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    usage: dict[str, dict[str, int]] = {}
    config_tasks = []
    for name, task_log in logs.items():
        full = _read_full(task_log)
        o, e, r, found = _outcomes(name, by_name[name].family, full, by_name[name].metric)
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
                "family": by_name[name].family,
                "version": by_name[name].version,
                "dataset_sha256": meta.get("dataset_sha256"),
                "blind_baseline": meta.get("blind_baseline"),
                "samples": len(full.samples or []),
                "limit": (opts.get("task_limits") or {}).get(name, options.limit),
            }
        )
    config = {
        "tasks": config_tasks,
        "epochs": opts["epochs"],
        "seed": options.seed,
        "limit": options.limit,
        "task_limits": opts.get("task_limits") or {},
        "limits": {
            "messages": options.message_limit,
            "tokens": options.token_limit,
            "seconds": options.time_limit,
            "max_tokens_per_generation": options.max_tokens,
            "max_submissions": options.max_submissions,
        },
        "scaffold": SCAFFOLD,
        "sandbox": "bwrap",
        "inspect_ai": importlib.metadata.version("inspect_ai"),
        **{k: v for k, v in model_info.items() if k != "api_key"},
    }
    with services.db.transaction() as session:
        run = session.get(EvalRun, run_id, with_for_update=True)
        assert run is not None
        analysis = analyse(outcomes, config, _references(session, run))
        baselines = _blind_baselines(config_tasks)
        decision, deltas = analysis.decision, analysis.deltas
        scores = [est.as_dict(_task_of(metric)) for metric, est in analysis.estimates.items()]
        run.config = config
        run.results = {
            "scores": scores,
            "usage": usage,
            "errors": errors,
            "refusals": refusals,
            "vulnerability_reports": len(vuln_reports),
            "blind_baselines": {k: round(v.value, 6) for k, v in baselines.items()},
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
            # matplotlib, on use: every shell loads the job handlers and so this module, and
            # the report module adds 0.4-1.4 s to that (measured); only submission runs need it.
            from clearinghouse.evals.analysis import report as reporting

            sub = session.get(Submission, run.submission_id)
            assert sub is not None
            doc, html = reporting.render(run, sub, analysis.chart_references, deltas, vuln_reports)
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
            out = review_reports.add_report(
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


def _blind_baselines(tasks: list[dict[str, Any]]) -> dict[str, Estimate]:
    """What blind guessing scores, beside each score: the PoC and patch programs' measured
    baselines (`battery.families.baselines`), and each task's own recorded `blind_baseline`
    (chance on multiple choice, 0 on exact flags)."""
    measured = blind_baselines()
    out: dict[str, Estimate] = {}
    for task in tasks:
        key = f"task:{task['name']}.accuracy"
        if key in measured:
            out[key] = measured[key]
            family = f"{task['family']}.accuracy"
            if family in measured:
                out[family] = measured[family]
        elif isinstance(task.get("blind_baseline"), int | float):
            value = float(task["blind_baseline"])
            out[key] = Estimate("accuracy", value, value, value, 0, 1, 0.0)
    return out


def _references(session: Session, run: EvalRun) -> list[Reference]:
    """The latest succeeded reference run per model, with the config that decides whether it
    is comparable to this run (`analysis.comparability`)."""
    refs: list[Reference] = []
    seen: set[str] = set()
    for ref in session.scalars(
        select(EvalRun)
        .where(EvalRun.is_reference.is_(True), EvalRun.state == "succeeded", EvalRun.id != run.id)
        .order_by(EvalRun.finished_at.desc())
    ):
        if ref.model_spec in seen:
            continue
        seen.add(ref.model_spec)
        scores = (ref.results or {}).get("scores", [])
        refs.append(Reference.from_run(ref.model_spec, ref.config, scores, ref.id))
    return refs


def adopt_vulnerability_reports(
    session: Session, services: Services, run: EvalRun, found: list[dict[str, Any]]
) -> None:
    """Each `report_vulnerability` call becomes a staging row (its PoC and transcript excerpt
    sealed) and a report in the triage queue, filed through vulns' intake in the evaluator's
    name, with an evaluator member's rights there (not the system's); a run with no evaluator
    organisation files as the system. Idempotent: a finish that is retried after a crash finds
    the rows it already made."""
    reporter = (
        Principal.on_behalf_of(
            run.evaluator_org_id, OrgKind.evaluator, f"eval run {run.id} found it"
        )
        if run.evaluator_org_id is not None
        else Principal.system()
    )
    for raw in found:
        v = {k: findings.storable(x) if isinstance(x, str) else x for k, x in raw.items()}
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
            poc_sealed_id=services.vault.seal_text(
                session, str(v["poc"]), purpose="eval_vulnerability_report:poc"
            ).id,
            excerpt_sealed_id=services.vault.seal_text(
                session,
                str(v["transcript_excerpt"]),
                purpose="eval_vulnerability_report:transcript_excerpt",
            ).id,
            created_at=utcnow(),
        )
        session.add(staged)
        session.flush()
        findings.file_finding(
            session,
            reporter,
            services.vault,
            RUNS,
            findings.Finding(
                provenance=findings.RunProvenance(
                    run_id=run.id,
                    model=run.model_spec,
                    task=v["task"],
                    sample_id=v["sample_id"],
                    epoch=int(v["epoch"]),
                    finding_id=staged.id,
                ),
                target=str(v["target"]),
                description=str(v["description"]),
                poc=str(v["poc"]) if v.get("poc") else "",
            ),
        )
