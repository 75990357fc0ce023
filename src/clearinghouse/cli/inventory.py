"""`clearinghouse inventory ...`: assets, SBOM upload (and, from other modules, exposures)."""

from __future__ import annotations

import typer

inventory_app = typer.Typer(
    help="Operator inventories: assets, SBOMs, exposures.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(inventory_app, name="inventory")
