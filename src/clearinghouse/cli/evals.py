"""Evaluation commands: the sandbox (and, as they land, the battery and its runs)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, err, handles_errors
from clearinghouse.evals.sandbox import Limits, Network, Sandbox

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


@evals_app.command("tasks")
@handles_errors
def evals_tasks(token: TokenOpt = None, seed: int = 0, as_json: JsonOpt = False) -> None:
    """List the battery's tasks: {name, family, version, samples}."""
    from clearinghouse.evals import services as evals
    from clearinghouse.evals.framework import TaskOptions

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
    model: Annotated[
        str | None, typer.Option("--model", help="a reference model, as an Inspect model spec")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="base URL for --model (OpenAI-compatible)")
    ] = None,
    tasks: Annotated[
        list[str] | None,
        typer.Option("--tasks", help="task names (repeat); default: the core battery"),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="samples per task")] = None,
    epochs: Annotated[int, typer.Option(help="attempts per sample (pass@k when > 1)")] = 1,
    seed: Annotated[int, typer.Option(help="seed for generated challenges")] = 0,
    message_limit: Annotated[int, typer.Option(help="messages per sample")] = 30,
    max_tokens: Annotated[int, typer.Option(help="tokens per model generation")] = 1024,
    judge_model: Annotated[
        str | None,
        typer.Option(
            help="judge for judged tasks (an Inspect model spec); default: the model itself"
        ),
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="base URL for --judge-model (OpenAI-compatible)")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="run the job here and wait, with a progress bar")
    ] = True,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an eval run (a durable job) and, by default, execute it here."""
    from rich.progress import Progress

    from clearinghouse.evals import services as evals
    from clearinghouse.evals.schemas import RunCreate
    from clearinghouse.workers.runner import Worker

    body = RunCreate(
        submission_id=submission,
        model=model,
        base_url=base_url,
        tasks=tasks or [],
        limit=limit,
        epochs=epochs,
        seed=seed,
        message_limit=message_limit,
        max_tokens=max_tokens,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
    )
    with acting(token) as (session, p, s):
        run = evals.create_run(session, p, s, body)
    if wait:
        worker = Worker(s)
        with Progress(
            transient=True, disable=as_json or not sys.stderr.isatty(), console=err
        ) as bar:
            task = bar.add_task(f"run {run.id}", total=len(run.tasks))
            while True:
                worker.run_once()
                with acting(token) as (session, p, _):
                    current = evals.get_run(session, p, run.id)
                bar.update(
                    task,
                    completed=current.progress.get("tasks_done", 0),
                    description=f"run {run.id}: {current.progress.get('task', 'starting')}",
                )
                if current.state in ("succeeded", "failed"):
                    break
        run = current
    if as_json:
        emit(run, True)
    else:
        _print_run(run)
    if run.state == "failed":
        raise typer.Exit(1)


@evals_app.command("show")
@handles_errors
def evals_show(run_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Show a run: config, scores {task, metric, value, ci_low, ci_high, n, epochs} and tier."""
    from clearinghouse.evals import services as evals

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
