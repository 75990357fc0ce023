"""`clearinghouse`: the command line."""

from __future__ import annotations

import typer

from clearinghouse.cli import accounts, evals, ops, reviews, vulns

app = typer.Typer(
    name="clearinghouse",
    help="AI Cyber Clearinghouse: pre-release model review, cyber evaluations, vulnerability coordination.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
ops.register(app)
accounts.register(app)
reviews.register(app)
evals.register(app)
vulns.register(app)


def main() -> None:
    app()
