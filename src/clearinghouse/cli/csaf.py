"""`clearinghouse csaf rebuild`: rebuild the CSAF trusted provider's directory (docs/csaf.md).
Incremental by default (only the records that changed); `--full` rewrites and re-signs every
document. Coordinators (the policy's `vuln:import`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors

csaf_app = typer.Typer(help="The CSAF trusted provider's directory", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(csaf_app, name="csaf")


@csaf_app.command("rebuild")
@handles_errors
def rebuild(
    full: Annotated[
        bool, typer.Option("--full", help="rewrite and re-sign every document")
    ] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring /.well-known/csaf/ up to date; prints {full, documents, written, signed, removed,
    fingerprint}."""
    from clearinghouse.vulns.publication.provider import build

    with acting(token) as (_, p, svc):
        pass  # the token is checked; the build runs its own short transactions
    emit(asdict(build(svc, p, full=full)), as_json)
