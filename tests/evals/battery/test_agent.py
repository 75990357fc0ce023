"""Nothing an agent does can fail a run (issue 12, item 2). Each test drives the real Inspect eval
loop with a scripted model in the real bwrap sandbox, through the CTF task builder: one sample
takes the hostile action, every sample then submits the flag, and the run must finish with
every sample scored and the action recorded as that sample's tool error. A sandbox fault that is
not the agent's doing is a sample error: excluded, counted, and a failed task only past the
configured tolerance."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, EvalSample
from inspect_ai.model import ChatMessage, ChatMessageTool, ModelOutput

from clearinghouse.evals.battery.agent import MAX_COMMAND_BYTES, MAX_OUTPUT_BYTES
from clearinghouse.evals.battery.families.ctf import ctf_task
from clearinghouse.evals.battery.framework import Skipped, TaskOptions, TaskSpec
from clearinghouse.sandbox.inspect_plugin import BwrapSandboxEnvironment
from tests.evals.battery.policies import call, calls, policy_model, prompt, turn
from tests.support.needs import needs_bwrap

pytestmark = needs_bwrap
FLAG = "FLAG{agent-actions-are-the-samples-problem}"


def _samples(n: int) -> Any:
    def samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
        return [
            Sample(id=f"s{i}", input=f"probe {i}: find the flag", target=FLAG) for i in range(n)
        ], []

    return samples


def _run(
    actions: list[ModelOutput], tmp_path: Path, *, n: int = 2, **options: Any
) -> dict[str, EvalSample]:
    """Sample s0 takes `actions`, one per turn; then every sample submits the flag."""

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        t = turn(messages)
        if prompt(messages).startswith("probe 0:") and t < len(actions):
            return actions[t]
        return call("submit", answer=FLAG)

    spec = TaskSpec("agent_probe", "ctf", "1", "probe", _samples(n), ctf_task)
    task = spec.task(TaskOptions(seed=0, **options))
    log = inspect_eval(task, model=policy_model(policy), log_dir=str(tmp_path), display="none")[0]
    return _goes_on(log, n)


def _goes_on(log: EvalLog, n: int) -> dict[str, EvalSample]:
    assert log.status == "success", log.error.traceback if log.error else None
    samples = {str(s.id): s for s in log.samples or []}
    assert len(samples) == n
    for s in samples.values():
        assert s.error is None, s.error.message
        assert s.scores is not None and s.scores["flag_scorer"].value == "C"
    return samples


def _tool_messages(sample: EvalSample) -> list[ChatMessageTool]:
    return [m for m in sample.messages if isinstance(m, ChatMessageTool) and m.function != "submit"]


def _recorded_errors(sample: EvalSample) -> dict[str, int]:
    assert sample.scores is not None
    metadata = sample.scores["flag_scorer"].metadata or {}
    errors: dict[str, int] = metadata["tool_errors"]
    return errors


def test_a_command_over_128_kib_is_a_tool_error(tmp_path: Path) -> None:
    """The kernel refuses one argument over 128 KiB with E2BIG; it used to fail the whole run."""
    command = "echo " + "A" * (200 * 1024)
    samples = _run([call("bash", command=command)], tmp_path)
    [message] = _tool_messages(samples["s0"])
    assert (
        message.error is not None and f"at most {MAX_COMMAND_BYTES} bytes" in message.error.message
    )
    assert _recorded_errors(samples["s0"]) == {"unknown": 1}
    assert _recorded_errors(samples["s1"]) == {}


def test_python_code_of_any_length_runs(tmp_path: Path) -> None:
    code = "data = '" + "B" * (300 * 1024) + "'\nprint(len(data))"
    samples = _run([call("python", code=code)], tmp_path)
    [message] = _tool_messages(samples["s0"])
    assert message.error is None and message.text.strip() == str(300 * 1024)


def test_a_timeout_is_a_tool_error(tmp_path: Path) -> None:
    started = time.monotonic()
    samples = _run([call("bash", command="sleep 60")], tmp_path, tool_timeout=2)
    assert time.monotonic() - started < 40
    [message] = _tool_messages(samples["s0"])
    assert message.error is not None and message.error.type == "timeout"
    assert _recorded_errors(samples["s0"]) == {"timeout": 1}


def test_endless_output_is_cut_in_the_sandbox(tmp_path: Path) -> None:
    """`yes` prints until killed; its output must not pile up in the host's memory until the
    wall-time limit, nor end the sample."""
    started = time.monotonic()
    samples = _run(
        [
            call("bash", command="yes"),
            call("python", code="import sys\nwhile True:\n    sys.stdout.write('y' * 65536)"),
        ],
        tmp_path,
    )
    assert time.monotonic() - started < 60
    for message in _tool_messages(samples["s0"]):
        assert message.error is None
        assert "truncated" in message.text  # Inspect's cut for the model, after ours
    assert MAX_OUTPUT_BYTES <= 2 * 1024 * 1024


def test_output_that_is_not_utf8_is_a_plain_result(tmp_path: Path) -> None:
    samples = _run(
        [call("bash", command=r"printf '\xff\xfe\x80abc'; head -c 4096 /dev/urandom")], tmp_path
    )
    [message] = _tool_messages(samples["s0"])
    assert message.error is None and "\ufffd\ufffd\ufffdabc" in message.text


def test_symlinks_out_of_the_workspace_change_nothing(tmp_path: Path) -> None:
    """Links to / and to host files, followed by the agent's own tools: the sample goes on and
    the teardown (which runs on the host) does not follow them."""
    canary = tmp_path / "canary"
    canary.write_text("host file")
    samples = _run(
        [
            call(
                "bash",
                command="ln -s / /workspace/root; ln -s /etc/shadow /workspace/shadow; "
                f"ln -s {canary} /workspace/canary; ln -s /workspace /workspace/loop; "
                "cat /workspace/shadow; ls /workspace/root/ > /dev/null; ls -la /workspace",
            ),
            call("python", code="import os\nprint(os.path.realpath('/workspace/loop/root'))"),
        ],
        tmp_path,
    )
    outputs = _tool_messages(samples["s0"])
    assert [m.error for m in outputs] == [None, None]
    assert "Permission denied" in outputs[0].text  # the host's shadow file stays unreadable
    assert canary.read_text() == "host file"


def test_calls_with_bad_arguments_are_tool_errors(tmp_path: Path) -> None:
    samples = _run(
        [
            call("bash", cmd=5),
            call("bash", command=["ls", "-la"]),
            call("no_such_tool", x=1),
            call("python"),
            calls(*[("bash", {"command": f"echo {i}"}) for i in range(8)]),
        ],
        tmp_path,
    )
    assert _recorded_errors(samples["s0"]) == {"parsing": 4}
    assert len(_tool_messages(samples["s0"])) == 12


def _break_after(marker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a host fault: the sample's workdir vanishes after a command with `marker`."""
    original = BwrapSandboxEnvironment.exec

    async def exec_then_break(
        self: BwrapSandboxEnvironment, cmd: list[str], *a: Any, **k: Any
    ) -> Any:
        result = await original(self, cmd, *a, **k)
        if any(marker in part for part in cmd):
            shutil.rmtree(self.box.workdir, ignore_errors=True)
        return result

    monkeypatch.setattr(BwrapSandboxEnvironment, "exec", exec_then_break)


def _policy_breaking_s0(messages: list[ChatMessage]) -> ModelOutput:
    if prompt(messages).startswith("probe 0:") and turn(messages) == 0:
        return call("bash", command="echo host-fault")
    return call("submit", answer=FLAG)


def test_a_sandbox_fault_is_an_error_excluded_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_after("host-fault", monkeypatch)
    spec = TaskSpec("agent_probe", "ctf", "1", "probe", _samples(4), ctf_task)
    task = spec.task(TaskOptions(seed=0, error_tolerance=0.5))
    log = inspect_eval(
        task, model=policy_model(_policy_breaking_s0), log_dir=str(tmp_path), display="none"
    )[0]
    assert log.status == "success"
    samples = {str(s.id): s for s in log.samples or []}
    broken = samples.pop("s0")
    assert broken.error is not None and "sandbox" in broken.error.message.lower()
    assert not broken.scores  # excluded: never a pass, never a fail
    assert all(s.scores and s.scores["flag_scorer"].value == "C" for s in samples.values())
    assert task.metadata is not None and task.metadata["error_tolerance"] == 0.5


def test_too_many_sandbox_faults_fail_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_after("host-fault", monkeypatch)
    spec = TaskSpec("agent_probe", "ctf", "1", "probe", _samples(2), ctf_task)
    task = spec.task(TaskOptions(seed=0))  # tolerance 0.1: one error in two samples is too many
    log = inspect_eval(
        task, model=policy_model(_policy_breaking_s0), log_dir=str(tmp_path), display="none"
    )[0]
    assert log.status == "error"
