"""`clearinghouse validate RECIPE_DIR`: reproduce a recipe locally, in the bubblewrap sandbox
(docs/validation.md). An operator's and analyst's tool: it acts on a directory and the local
cache, touches no database, and needs no token.

Exit status: 0 whenever a verdict was computed (`error` included: the verdict is data), 1 with a
problem code for a bad recipe.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, handles_errors
from clearinghouse.core.config import get_settings
from clearinghouse.vulns.validation.runner import validator_for

SUMMARY = ("verdict", "fixed_verdict", "crash_type", "signature", "error_code", "build_cached")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


@handles_errors
def validate(
    recipe_dir: Annotated[
        Path,
        typer.Argument(
            help="a recipe directory (recipe.toml, the PoC, the source or a purl)",
            file_okay=False,
            dir_okay=True,
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Build the recipe's target in the sandbox, run its PoC on the vulnerable and the fixed
    build, and print the verdict, the crash signature and the evidence."""
    settings = get_settings()
    validator = validator_for(settings)
    result = validator.validate(recipe_dir)
    data = result.model_dump(mode="json")
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    width = max(len(k) for k in SUMMARY)
    lines = [f"{key.ljust(width)}  {'' if data[key] is None else data[key]}" for key in SUMMARY]
    lines += [f"{'note'.ljust(width)}  {note}" for note in result.notes]
    lines += ["", "evidence:", result.evidence.rstrip()]
    if result.fixed_evidence:
        lines += ["", "fixed build:", result.fixed_evidence.rstrip()]
    sys.stdout.write("\n".join(lines) + "\n")
