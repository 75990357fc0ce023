"""`clearinghouse validate RECIPE_DIR [--json]`, registered on a Typer app as the lead wires it
into cli/main.py: the interface contract (the JSON keys), exit 0 on any computed verdict, and a
problem code with a non-zero exit for a bad recipe. No token, no database."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clearinghouse.cli import validation
from tests.support.needs import needs_bwrap, needs_gcc

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "examples" / "recipes" / "c-heap-overflow"
CONTRACT = {"verdict", "crash_type", "signature", "fixed_verdict", "evidence"}


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """The real app's shape: commands under a group."""

    validation.register(app)
    return app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith("CLEARINGHOUSE_")]:
        monkeypatch.delenv(key)  # no token, no database URL
    monkeypatch.setenv("CLEARINGHOUSE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CLEARINGHOUSE_PACKAGE_INDEX_URL", "http://127.0.0.1:9/simple")
    return tmp_path / "var"


@needs_bwrap
@needs_gcc
def test_validate_json_prints_the_contract_and_exits_0(app: typer.Typer, env: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(RECIPE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert CONTRACT <= data.keys()
    assert (data["verdict"], data["fixed_verdict"]) == ("reproduced", "fixed_confirmed")
    assert data["signature"] == "heap-buffer-overflow@store_field|parse_records|main"
    assert data["crash_type"] == "heap-buffer-overflow"
    assert "AddressSanitizer" in data["evidence"]
    assert (env / "cache" / "builds").is_dir()  # the cache lives in the data directory
    again = json.loads(CliRunner().invoke(app, ["validate", str(RECIPE), "--json"]).stdout)
    assert again["build_cached"] is True


@needs_bwrap
@needs_gcc
def test_validate_prints_a_readable_summary(app: typer.Typer, env: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(RECIPE)])
    assert result.exit_code == 0, result.output
    assert "verdict" in result.stdout and "reproduced" in result.stdout
    assert "heap-buffer-overflow@store_field|parse_records|main" in result.stdout
    assert "evidence:" in result.stdout and "[fa]" in result.stdout  # shadow bytes, not markup


def test_a_bad_recipe_exits_non_zero_with_its_code(
    app: typer.Typer, env: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert '"code": "recipe_missing"' in result.output  # --json: the error as JSON
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1 and "[recipe_missing]" in result.output
    (tmp_path / "recipe.toml").write_text(
        '[target]\nsource = "."\nrun = "x {poc}"\n[poc]\nfile = "../x"\nexpect = "asan"\n'
    )
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1 and "[path_outside_recipe]" in result.output


@needs_bwrap
@needs_gcc
def test_a_broken_sandbox_is_a_verdict_and_exits_0(
    app: typer.Typer, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Path(tempfile.mkdtemp(prefix="ch-fake-bwrap-"))
    try:
        fake.chmod(0o755)
        (fake / "bwrap").write_text("#!/bin/sh\nexit 1\n")
        (fake / "bwrap").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
        result = CliRunner().invoke(app, ["validate", str(RECIPE), "--json"])
    finally:
        (fake / "bwrap").unlink()
        fake.rmdir()
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["verdict"], data["error_code"]) == ("error", "sandbox_broken")
