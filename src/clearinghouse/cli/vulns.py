"""Vulnerability knowledge base commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, emit, handles_errors, services
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
    from clearinghouse.vulns.services import import_file

    if fmt != "osv":
        raise InvalidInput(
            f"format {fmt!r} is not implemented yet; only osv is", code="format_unsupported"
        )
    emit(import_file(services().db, path).as_dict(), as_json)
