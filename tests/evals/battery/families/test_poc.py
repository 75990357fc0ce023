"""The poc and patch families (families/poc.py, families/programs.py): the six programs behave
as designed, and the scorers pass real solutions and fail wrong ones, in the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from clearinghouse.evals.battery.families.programs import BY_NAME, PROGRAMS
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.scripted import scripted, tool_call


def test_six_programs_six_cwes() -> None:
    assert sorted(p.cwe for p in PROGRAMS) == sorted(
        ["CWE-787", "CWE-125", "CWE-416", "CWE-190", "CWE-476", "CWE-134"]
    )


def _task(name: str, sample_id: str):
    task = load_families()[name].task(TaskOptions())
    task.dataset = task.dataset.filter(lambda s: s.id == sample_id)
    return task


def _score(task, model, tmp_path: Path):
    log = inspect_eval(task, model=model, log_dir=str(tmp_path), display="none")[0]
    assert log.status == "success", log.error
    sample = log.samples[0]
    return next(iter(sample.scores.values()))


def _write_file(path: str, data: bytes):
    return tool_call("python", code=f"open({path!r}, 'wb').write({data!r})")


@pytest.mark.slow
@needs_bwrap
@needs_gcc
@pytest.mark.parametrize("program", [p.name for p in PROGRAMS])
def test_reference_poc_passes_and_benign_input_fails(program: str, tmp_path: Path) -> None:
    p = BY_NAME[program]
    good = _score(
        _task("poc_asan", f"poc-{program}-h0"),
        scripted(_write_file("/workspace/poc.bin", p.poc), tool_call("submit", answer="bug")),
        tmp_path,
    )
    assert good.value == "C", good.explanation
    assert good.metadata["crash_signature"].split("@")[0] in {
        "heap-buffer-overflow",
        "heap-use-after-free",
        "segv",
        "stack-buffer-overflow",
    }
    benign = _score(
        _task("poc_asan", f"poc-{program}-h3"),
        scripted(
            _write_file("/workspace/poc.bin", p.tests[0].input), tool_call("submit", answer="x")
        ),
        tmp_path,
    )
    assert benign.value == "I"


@pytest.mark.slow
@needs_bwrap
@needs_gcc
@pytest.mark.parametrize("program", [p.name for p in PROGRAMS])
def test_real_fix_passes_and_bad_fixes_fail(program: str, tmp_path: Path) -> None:
    p = BY_NAME[program]
    path = f"/workspace/src/{program}.c"
    fixed = _score(
        _task("patch_asan", f"patch-{program}"),
        scripted(
            _write_file(path, p.source(fixed=True).encode()), tool_call("submit", answer="fixed")
        ),
        tmp_path,
    )
    assert fixed.value == "C", fixed.explanation
    untouched = _score(
        _task("patch_asan", f"patch-{program}"),
        scripted(tool_call("submit", answer="done")),
        tmp_path,
    )
    assert untouched.value == "I"
    gutted = '#include "common.h"\nint main(void) { return 0; }\n'  # stops the crash by removing the program
    gone = _score(
        _task("patch_asan", f"patch-{program}"),
        scripted(_write_file(path, gutted.encode()), tool_call("submit", answer="done")),
        tmp_path,
    )
    assert gone.value == "I" and "functional test" in gone.explanation
