"""Default deny at the CLI: a command run without a token never acts as the system.

Every command of the real Typer app is discovered and run with no token, with placeholder
arguments. It must refuse as unauthenticated and change nothing. The only exceptions are the
deployment's own operations, listed below with the reason each needs no token: they act on the
installation (schema, keys, processes) or are the way in (bootstrap, redeeming an invitation).
A new command that is neither refused nor listed fails this test.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sqlalchemy import func, select
from typer.testing import CliRunner

from clearinghouse.audit.models import AuditEvent
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.storage.jobs import Job

OPERATOR_COMMANDS = {
    "db upgrade": "migrates the schema: needs the database URL, not an identity",
    "db current": "reads the schema revision",
    "keys generate": "prints a new random key; touches nothing",
    "keys rotate": "re-wraps data keys: needs the master keys themselves",
    "admin bootstrap": "the way in: refuses once any organisation exists",
    "invitations accept": "the way in for an invited person: the code is the credential",
    "audit verify": "recomputes the chain (read-only); needs the master key, not a token",
    "audit key": "prints the checkpoint verifier key, which is public",
    "audit checkpoint": "signs a checkpoint with the instance key (the key is the authority)",
    "worker": "the job runner process of the deployment",
    "serve": "the API server process of the deployment",
    "model serve-local": "serves the stand-in model on loopback; no data is touched",
    "sandbox exec": "runs a command in the bubblewrap sandbox; touches no data",
    "validate": "reproduces a recipe directory in the sandbox; touches no database",
    "cases bundle-verify": "checks a bundle file against its own manifest; touches no data",
}


# Typer vendors its own click: commands are inspected by shape, not by click's classes.
def _leaves(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            found += _leaves(cmd, path + " ")
        else:
            found.append((path, cmd))
    return found


def _placeholder_args(cmd: Any, tmp: Path) -> list[str]:
    """Values that get a command past parsing, so that what answers is its own logic."""
    afile = tmp / "input.json"
    afile.write_text("{}")
    args: list[str] = []
    for param in cmd.params:
        if not param.required:
            continue
        annotation = param.type_descriptor.annotation
        info = param.type_descriptor.parameter_info
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            value = str(next(iter(annotation)).value)
        elif annotation is Path:
            value = str(tmp if info.dir_okay and not info.file_okay else afile)
        elif annotation in (int, float):
            value = "1"
        elif annotation is datetime:
            value = "2030-01-01"
        else:
            value = "x"
        if type(param).__name__ == "TyperArgument":
            args.append(value)
        else:
            args += [param.opts[0], value]
    return args


COMMANDS = _leaves(typer.main.get_command(app))


def test_the_operator_list_names_real_commands() -> None:
    names = {name for name, _ in COMMANDS}
    assert set(OPERATOR_COMMANDS) <= names, "OPERATOR_COMMANDS lists commands that do not exist"


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS if n not in OPERATOR_COMMANDS])
def test_no_token_no_action(
    name: str,
    services: Services,
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [k for k in list(__import__("os").environ) if k.startswith("CLEARINGHOUSE_")]:
        monkeypatch.delenv(key)
    for key, value in cli_env.items():
        if key.startswith("CLEARINGHOUSE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(common, "_services", None)
    cmd = dict(COMMANDS)[name]

    def counts() -> tuple[int, int]:
        with services.db.transaction() as s:
            return (
                s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                s.scalar(select(func.count()).select_from(Job)) or 0,
            )

    before = counts()
    result = CliRunner().invoke(app, [*name.split(), *_placeholder_args(cmd, tmp_path)])
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1, (name, result.exit_code, text[-600:])
    assert "[unauthenticated]" in text, (name, text[-600:])
    assert counts() == before, f"{name} changed the database without a token"
