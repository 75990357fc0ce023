"""Evaluation commands: the sandbox (and, as they land, the battery and its runs)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clearinghouse.cli.common import handles_errors
from clearinghouse.evals.sandbox import Limits, Network, Sandbox

sandbox_app = typer.Typer(
    help="The bubblewrap sandbox that evaluation tasks run in.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


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
