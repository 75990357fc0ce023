"""Evaluation commands: the sandbox, the battery's tasks, runs and their sealed logs, and the
registered reference models.

The run services (and the battery's TaskOptions) are imported inside the commands that use
them: they load Inspect AI, which took `clearinghouse --help` (and so every shell completion,
which runs the program) from 0.7 s to 2.5 s when imported here (measured on the development
machine); cli/main imports every command module, so all commands would pay for the evals ones.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import Progress

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, err, guarded, handles_errors
from clearinghouse.container import Services
from clearinghouse.core.errors import InvalidInput
from clearinghouse.evals import reference
from clearinghouse.evals.schemas import ReferenceModelCreate, RunCreate, RunOut
from clearinghouse.sandbox.bwrap import Limits, Network, Sandbox
from clearinghouse.storage.jobs import Job
from clearinghouse.workers.runner import Worker

LimitOpt = Annotated[int, typer.Option(help="page size")]
CursorOpt = Annotated[str | None, typer.Option(help="the next_cursor of the previous page")]

sandbox_app = typer.Typer(
    help="The bubblewrap sandbox that evaluation tasks run in.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
    app.add_typer(evals_app, name="evals")


@sandbox_app.command("exec", context_settings={"allow_interspersed_args": False})
@handles_errors
def sandbox_exec(
    cmd: Annotated[list[str], typer.Argument(help="the command, after --")],
    network: Annotated[
        Network, typer.Option(help="none: loopback only; private: a private namespace")
    ] = Network.none,
    wall_seconds: Annotated[float, typer.Option(help="wall-clock limit")] = 60.0,
    cpu_seconds: Annotated[int, typer.Option(help="CPU-time limit")] = 60,
    memory_mb: Annotated[int, typer.Option(help="memory limit")] = 1024,
    processes: Annotated[int, typer.Option(help="process-count limit")] = 128,
) -> None:
    """Run CMD in exactly the sandbox that evaluation tasks use; exit with its status."""
    limits = Limits(
        cpu_seconds=cpu_seconds,
        memory_bytes=memory_mb * 1024**2,
        processes=processes,
        wall_seconds=wall_seconds,
    )
    with Sandbox(network=network, limits=limits) as box:
        outcome = box.run(cmd, input=None if sys.stdin.isatty() else sys.stdin.buffer.read())
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    raise typer.Exit(outcome.returncode)


evals_app = typer.Typer(
    help="The cyber-capability benchmark battery (Inspect AI).", no_args_is_help=True
)
WaitOpt = Annotated[bool, typer.Option(help="run the job here and wait, with a progress bar")]


@evals_app.command("tasks")
@handles_errors
def evals_tasks(token: TokenOpt = None, seed: int = 0, as_json: JsonOpt = False) -> None:
    """List the battery's tasks: {name, family, version, samples}."""
    from clearinghouse.evals.battery.framework import TaskOptions
    from clearinghouse.evals.runs import services as evals

    with acting(token) as (_, p, s):
        infos = evals.list_tasks(p, TaskOptions(seed=seed, shared_data=s.settings.shared_data))
    if as_json:
        emit(
            [
                {"name": i.name, "family": i.family, "version": i.version, "samples": i.samples}
                for i in infos
            ],
            True,
        )
    else:
        emit(infos, False, ["name", "family", "version", "samples", "skipped", "description"])


@evals_app.command("run")
@handles_errors
def evals_run(
    submission: Annotated[
        str | None, typer.Option("--submission", help="run against this submission's endpoint")
    ] = None,
    reference_model: Annotated[
        str | None,
        typer.Option(
            "--reference-model", help="run against this registered reference model (name or id)"
        ),
    ] = None,
    tasks: Annotated[
        list[str] | None,
        typer.Option("--tasks", help="task names (repeat); default: the core battery"),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="samples per task")] = None,
    task_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--task-limit",
            help="TASK=N: samples for this task instead of --limit (repeat)",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="attempts per sample (pass@k when > 1)")] = 1,
    seed: Annotated[
        int | None,
        typer.Option(help="seed for generated challenges; default: a fresh one, recorded"),
    ] = None,
    message_limit: Annotated[int, typer.Option(help="messages per sample")] = 30,
    time_limit: Annotated[
        int, typer.Option(help="seconds per sample (a sample past it ends and is scored)")
    ] = 900,
    max_tokens: Annotated[int, typer.Option(help="tokens per model generation")] = 1024,
    judge_reference_model: Annotated[
        str | None,
        typer.Option(
            "--judge-reference-model",
            help="judge for judged tasks: a registered reference model; default: the model itself",
        ),
    ] = None,
    wait: WaitOpt = True,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an eval run (a durable job) and, by default, execute it here (that job only)."""
    from clearinghouse.evals.runs import services as evals

    body = guarded(
        lambda: _validated(
            RunCreate,
            submission_id=submission,
            reference_model=reference_model,
            tasks=tasks or [],
            limit=limit,
            task_limits=_task_limits(task_limit or []),
            epochs=epochs,
            seed=seed,
            message_limit=message_limit,
            time_limit=time_limit,
            max_tokens=max_tokens,
            judge_reference_model=judge_reference_model,
        )
    )
    with acting(token) as (session, p, s):
        run = evals.create_run(session, p, s, body)
        job_id = evals.job_of(session, p, run.id)
    _finish(run, job_id, s, token, wait=wait, as_json=as_json)


@evals_app.command("replay")
@handles_errors
def replay(
    run_id: Annotated[str, typer.Argument(help="the run to replay")],
    wait: WaitOpt = True,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a new run from a run's recorded config (target, judge, tasks, seed, limits) and, by
    default, execute it here. Same seed, same samples: compare the two runs' dataset digests."""
    from clearinghouse.evals.runs import services as evals

    with acting(token) as (session, p, s):
        run = evals.replay_run(session, p, s, run_id)
        job_id = evals.job_of(session, p, run.id)
    _finish(run, job_id, s, token, wait=wait, as_json=as_json)


def _task_limits(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, n = pair.partition("=")
        if not sep or not name or not n.strip().isdigit():
            raise InvalidInput(f"--task-limit takes TASK=N, not {pair!r}", code="invalid_request")
        out[name] = int(n)
    return out


def _finish(
    run: RunOut, job_id: str, s: Services, token: str | None, *, wait: bool, as_json: bool
) -> None:
    from clearinghouse.evals.runs import services as evals

    if wait:
        worker = Worker(s)
        with Progress(
            transient=True, disable=as_json or not sys.stderr.isatty(), console=err
        ) as bar:
            task = bar.add_task(f"run {run.id}", total=len(run.tasks))
            while True:
                # Only the job this command created: a shell never runs other people's jobs.
                if not worker.run_once(job_id=job_id):
                    time.sleep(1)  # backing off before a retry, or another worker has it
                with acting(token) as (session, p, _):
                    current = evals.get_run(session, p, run.id)
                bar.update(
                    task,
                    completed=current.progress.get("tasks_done", 0),
                    description=f"run {run.id}: {current.progress.get('task', 'starting')}",
                )
                if current.state == "succeeded" or (
                    current.state == "failed" and _job_finished(s, job_id)
                ):
                    break
        run = current
    if as_json:
        emit(run, True)
    else:
        _print_run(run)
    if run.state == "failed":
        raise typer.Exit(1)


def _validated(schema: type[Any], /, **fields: Any) -> Any:
    try:
        return schema.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
            code="invalid_request",
        ) from None


def _job_finished(s: Services, job_id: str) -> bool:
    with s.db.transaction() as session:
        job = session.get(Job, job_id)
        return job is None or job.state in ("succeeded", "dead")


@evals_app.command("list")
@handles_errors
def evals_list(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the runs you may see, oldest first, a page at a time."""
    from clearinghouse.evals.runs import services as evals

    with acting(token) as (session, p, _):
        page = evals.list_runs(session, p, limit=limit, cursor=cursor)
    if as_json:
        emit(page, True)
    else:
        emit(
            {
                "items": [
                    {
                        "id": r.id,
                        "state": r.state,
                        "model": r.model,
                        "submission_id": r.submission_id,
                        "tier": r.tier.get("tier"),
                    }
                    for r in page.items
                ],
                "next_cursor": page.next_cursor,
            },
            False,
        )


@evals_app.command("logs")
@handles_errors
def evals_logs(
    run_id: str,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="decrypt the logs and report files into this directory (audited)"
        ),
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a run's sealed logs and report files; with --export DIR, decrypt them there for
    `inspect view --log-dir DIR`."""
    from clearinghouse.evals.runs import services as evals

    if export is None:
        with acting(token) as (session, p, _):
            items = evals.list_artefacts(session, p, run_id)
        emit(items, as_json, ["name", "kind", "size", "sha256", "destroyed"])
        return
    with acting(token) as (session, p, s):
        files = evals.export_logs(session, p, s, run_id)
    root = export.resolve()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, data in files:
        path = (root / name).resolve()
        if root not in path.parents:  # names are ours, but never write outside DIR
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written.append(str(path))
    emit({"run_id": run_id, "directory": str(root), "files": written}, as_json)


reference_app = typer.Typer(
    help="Reference models: the only models besides submissions that runs may target.",
    no_args_is_help=True,
)
evals_app.add_typer(reference_app, name="reference-models")


@reference_app.command("create")
@handles_errors
def reference_create(
    name: Annotated[str, typer.Option(help="a unique name runs refer to")],
    model: Annotated[str, typer.Option(help="Inspect spec: openai-api/<service>/<model>")],
    base_url: Annotated[str, typer.Option(help="the OpenAI-compatible base URL (…/v1)")],
    api_key_stdin: Annotated[
        bool,
        typer.Option(
            "--api-key-stdin", help="read the model's API key from stdin (never an argument)"
        ),
    ] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a reference model (coordinator admins); its key is sealed and never shown."""
    key = sys.stdin.readline().strip() if api_key_stdin else None
    body = guarded(
        lambda: _validated(
            ReferenceModelCreate, name=name, model=model, base_url=base_url, api_key=key or None
        )
    )
    with acting(token) as (session, p, s):
        out = reference.create_reference_model(
            session, p, s.vault, body, allow_private=s.settings.private_endpoints_allowed
        )
    emit(out, as_json)


@reference_app.command("list")
@handles_errors
def reference_list(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the registered reference models (evaluators and coordinators)."""
    with acting(token) as (session, p, _):
        page = reference.list_reference_models(session, p, limit=limit, cursor=cursor)
    emit(page, as_json, ["id", "name", "model", "base_url", "api_key_hint"])


@reference_app.command("show")
@handles_errors
def reference_show(ref: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Show a reference model by id or name (never its key)."""
    with acting(token) as (session, p, _):
        out = reference.get_reference_model(session, p, ref)
    emit(out, as_json)


@evals_app.command("show")
@handles_errors
def evals_show(run_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Show a run: config, scores {task, metric, value, ci_low, ci_high, n, epochs} and tier."""
    from clearinghouse.evals.runs import services as evals

    with acting(token) as (session, p, _):
        run = evals.get_run(session, p, run_id)
    if as_json:
        emit(run, True)
    else:
        _print_run(run)


def _print_run(run: Any) -> None:
    emit(
        {
            "id": run.id,
            "state": run.state,
            "model": run.model,
            "tasks": run.tasks,
            "tier": run.tier.get("tier"),
            "headline": run.tier.get("headline"),
            "insufficient_evidence": run.tier.get("insufficient_evidence"),
            "not_ruled_out": run.tier.get("not_ruled_out"),
            "errors": run.errors,
            "report_id": run.report_id,
            "error": run.error,
        },
        False,
    )
    emit(
        [s.model_dump() for s in run.scores],
        False,
        ["task", "metric", "value", "ci_low", "ci_high", "n", "epochs"],
    )
