"""The Inspect sandbox environment `bwrap` is found through the `inspect_ai` entry point: a
program that never imports clearinghouse gets it by name. The adversary is a moved module with a
stale entry point, which would leave Inspect with no `bwrap` sandbox."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from clearinghouse.sandbox.inspect_plugin import BwrapSandboxEnvironment
from tests.support.needs import needs_bwrap

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import sys
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.solver import solver
    from inspect_ai.util import sandbox

    @solver
    def probe():
        async def solve(state, generate):
            result = await sandbox().exec(["sh", "-c", "id -u; pwd"])
            state.metadata["out"] = result.stdout
            return state
        return solve

    task = Task(dataset=[Sample(input="x")], solver=probe(), sandbox="bwrap")
    log = eval(task, model="mockllm/model", display="none", log_dir=sys.argv[1])[0]
    assert log.status == "success", log.error
    print(log.samples[0].metadata["out"], end="")
    """
)


def test_the_declared_entry_point_registers_bwrap() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    module = importlib.import_module(declared["inspect_ai"]["clearinghouse"])
    assert module.BwrapSandboxEnvironment is BwrapSandboxEnvironment


@needs_bwrap
def test_inspect_finds_bwrap_by_name_alone(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "1000\n/workspace\n"
