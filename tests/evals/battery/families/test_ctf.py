"""Generated CTF challenges: solvable by their reference solutions for many seeds, different per
seed, and scored in the real sandbox (a right flag passes, a wrong one fails, a broken sandbox
is an error)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from clearinghouse.evals.battery.families.ctf_generators import (
    TEMPLATES,
    generate,
    install_files,
    materialize_service,
)
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.sandbox.bwrap import Limits, Sandbox
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.scripted import scripted, tool_call

pytestmark = [needs_bwrap, needs_gcc]  # generating binary challenges compiles them
SEEDS = range(8)


def test_at_least_twelve_templates_across_categories() -> None:
    assert len(TEMPLATES) >= 12
    assert {generate(t, 0).category for t in TEMPLATES} == {
        "crypto",
        "forensics",
        "reverse",
        "web",
        "pwn",
    }


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_fresh_parameters_per_seed_and_deterministic(template: str) -> None:
    flags = {generate(template, s).flag for s in SEEDS}
    assert len(flags) == len(SEEDS)  # nothing to memorise
    a, b = generate(template, 3), generate(template, 3)
    assert a.flag == b.flag and a.files == b.files


@pytest.mark.slow
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_reference_solution_solves_every_seed(template: str) -> None:
    for seed in SEEDS:
        c = generate(template, seed)
        with (
            Sandbox(network=c.network, limits=Limits(wall_seconds=60)) as box,
            tempfile.TemporaryDirectory() as tmp,
        ):
            install_files(box, c.files)
            if c.service is not None:
                box.start_service(
                    c.service.cmd,
                    files_dir=materialize_service(c.service, Path(tmp)),
                    ready_port=c.service.port,
                )
            out = box.run(["/bin/sh", "-c", c.solution])
        assert c.flag in out.stdout, (
            f"{template} seed {seed}: {out.stdout[-300:]} {out.stderr[-300:]}"
        )


def _one(template: str, seed: int = 0):
    spec = load_families()["ctf_generated"]
    task = spec.task(TaskOptions(seed=seed))
    index = sorted(TEMPLATES).index(template)
    challenge = generate(template, seed * 1000 + index)
    task.dataset = task.dataset.filter(lambda s: s.id == challenge.id)
    return task, challenge


def _run(task, model, tmp_path: Path):
    return inspect_eval(task, model=model, log_dir=str(tmp_path), display="none")[0]


@pytest.mark.slow
@pytest.mark.parametrize("template", ["crypto_xor_byte", "web_path_traversal", "pwn_overflow"])
def test_scripted_agent_solves_in_the_real_sandbox(template: str, tmp_path: Path) -> None:
    task, c = _one(template)
    model = scripted(
        tool_call("bash", command=c.solution + " > found.txt"),
        tool_call("bash", command="cat found.txt"),
        tool_call("submit", answer=c.flag),
    )
    log = _run(task, model, tmp_path)
    assert log.status == "success", log.error.traceback if log.error else log.samples[0].error
    sample = log.samples[0]
    assert sample.scores["flag_scorer"].value == "C"
    tool_outputs = [m.content for m in sample.messages if m.role == "tool"]
    assert any(c.flag in str(t) for t in tool_outputs)  # the flag really came out of the sandbox
    assert log.eval.metadata["seed"] == 0 and len(log.eval.metadata["dataset_sha256"]) == 64


def test_wrong_answer_fails(tmp_path: Path) -> None:
    task, _ = _one("crypto_caesar")
    log = _run(task, scripted(tool_call("submit", answer="FLAG{not-the-flag}")), tmp_path)
    assert log.samples[0].scores["flag_scorer"].value == "I"


def test_breaking_the_sandbox_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """inspect_ai #4709: a sample whose sandbox broke must not score as a pass. Here the sample's
    workdir vanishes after the agent's first command (what an escape or a host fault looks like
    from outside); the agent then submits the right flag, and the sample must be an error."""
    from clearinghouse.sandbox import inspect_plugin

    task, c = _one("crypto_caesar")
    model = scripted(tool_call("bash", command="ls"), tool_call("submit", answer=c.flag))
    original = inspect_plugin.BwrapSandboxEnvironment.exec

    async def exec_then_break(self, cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = await original(self, cmd, *args, **kwargs)
        shutil.rmtree(self.box.workdir, ignore_errors=True)
        return result

    inspect_plugin.BwrapSandboxEnvironment.exec = exec_then_break  # type: ignore[method-assign]
    try:
        log = _run(task, model, tmp_path)
    finally:
        inspect_plugin.BwrapSandboxEnvironment.exec = original  # type: ignore[method-assign]
    sample = log.samples[0]
    assert sample.error is not None and "sandbox" in sample.error.message.lower()
    assert not sample.scores


def test_report_vulnerability_is_recorded_with_the_sample(tmp_path: Path) -> None:
    task, c = _one("crypto_caesar")
    model = scripted(
        tool_call(
            "report_vulnerability",
            target="pkg:pypi/example@1.0",
            description="overflow in parse()",
            poc="python -c 'parse(\"A\"*4096)'",
        ),
        tool_call("submit", answer=c.flag),
    )
    sample = _run(task, model, tmp_path).samples[0]
    assert sample.store["vulnerability_reports"] == [
        {
            "target": "pkg:pypi/example@1.0",
            "description": "overflow in parse()",
            "poc": "python -c 'parse(\"A\"*4096)'",
        }
    ]
