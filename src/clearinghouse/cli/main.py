"""`clearinghouse`: the command line."""

from __future__ import annotations

import typer

from clearinghouse.container import DOMAINS, load

app = typer.Typer(
    name="clearinghouse",
    help="AI Cyber Clearinghouse: pre-release model review, cyber evaluations, vulnerability coordination.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Every domain's commands (container.DOMAINS), listed by --help in that order.
for domain in DOMAINS:
    for module in domain.commands:
        load(f"{module}:register")(app)


def main() -> None:
    app()
