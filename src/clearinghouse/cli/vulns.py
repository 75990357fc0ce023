"""Vulnerability knowledge base commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, emit, err, handles_errors, services
from clearinghouse.core.errors import InvalidInput

vulns_app = typer.Typer(help="The vulnerability knowledge base.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(vulns_app, name="vulns")


@vulns_app.command("import")
@handles_errors
def vulns_import(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="OSV .json, .jsonl(.gz) or .zip")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="osv (kev, csaf and cve5 are not implemented yet)")
    ] = "osv",
    as_json: JsonOpt = False,
) -> None:
    """Import advisories; prints {created, updated, unchanged, rejected: [{source, reason}]}."""
    from clearinghouse.vulns.services import ImportResult, import_file

    if fmt != "osv":
        raise InvalidInput(
            f"format {fmt!r} is not implemented yet; only osv is", code="format_unsupported"
        )
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(
        *columns, console=err, transient=True, disable=as_json or not sys.stderr.isatty()
    ) as bar:
        task = bar.add_task(f"importing {path.name}")

        def tick(r: ImportResult) -> None:
            bar.update(
                task,
                description=f"importing {path.name}: {r.created} created, {r.updated} updated, "
                f"{r.unchanged} unchanged, {len(r.rejected)} rejected",
            )

        result = import_file(services().db, path, on_record=tick)
    emit(result.as_dict(), as_json)
