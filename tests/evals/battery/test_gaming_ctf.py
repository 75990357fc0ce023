"""The gaming suite for CTF and multiple choice (issue 12, item 1): scripted models that game the
scorer instead of solving the task, each run through the real Inspect eval loop (CTF in the real
bwrap sandbox), must score at chance or below; the oracle must score full.

CTF gamers: one submission spraying fifty flag-shaped candidates (the real flag among them),
fifty submissions in a row or in one message (the real flag tenth), random flag-shaped guesses,
and oversized tool calls. The sprays include the real flag on purpose: a model that pulls every
flag-like string out of a haystack is spraying, and a "contains" scorer credited it (15% of the
generated challenges, 8% of InterCode, in the audit). Chance for a sprayer that does not know the
flag is 0; on InterCode, whose flags are public, a model that sprays the published flags has at
most `max_submissions` of them right by chance.

Multiple-choice gamers: always B, always the first or the last letter, random letters, and every
letter at once. The answer key is balanced per run, so a fixed letter scores exactly its share.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog
from inspect_ai.model import ChatMessage, ModelOutput

from clearinghouse.evals.battery.families.knowledge import original_samples
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
from tests.conftest import shared_data_dir
from tests.evals.battery.policies import (
    Policy,
    call,
    calls,
    policy_model,
    prompt,
    shown_choices,
    text,
    turn,
)
from tests.support.needs import needs_bwrap, needs_gcc

SPRAY = 50


def _decoys(n: int, rng: random.Random, shape: str = "FLAG{{{}}}") -> list[str]:
    alphabet = string.ascii_lowercase + string.digits
    return [shape.format("".join(rng.choice(alphabet) for _ in range(20))) for _ in range(n)]


def _run(task: Task, policy: Policy, tmp_path: Path) -> EvalLog:
    log = inspect_eval(task, model=policy_model(policy), log_dir=str(tmp_path), display="none")[0]
    assert log.status == "success", log.error.traceback if log.error else None
    assert all(s.error is None for s in log.samples or []), [
        s.error.message for s in log.samples or [] if s.error
    ]
    return log


def _accuracy(log: EvalLog) -> float:
    samples = log.samples or []
    assert samples
    return sum(next(iter((s.scores or {}).values())).value == "C" for s in samples) / len(samples)


# --- CTF --------------------------------------------------------------------------------------

Gamer = Callable[[dict[str, str], str], Policy]  # (flag by prompt, flag shape) -> policy


def spray_one(flags: dict[str, str], shape: str) -> Policy:
    """One submission: the real flag among forty-nine flag-shaped decoys."""

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        if turn(messages):
            return text("Done.")
        decoys = _decoys(SPRAY - 1, random.Random(prompt(messages)), shape)
        return call(
            "submit", answer="\n".join([*decoys[:20], flags[prompt(messages)], *decoys[20:]])
        )

    return policy


def _candidates(flags: dict[str, str], messages: list[ChatMessage], shape: str) -> list[str]:
    decoys = _decoys(SPRAY - 1, random.Random(prompt(messages)), shape)
    return [*decoys[:9], flags[prompt(messages)], *decoys[9:]]  # the real flag is the tenth


def spray_many(flags: dict[str, str], shape: str) -> Policy:
    """Fifty submissions, one per message."""

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        candidates = _candidates(flags, messages, shape)
        t = turn(messages)
        return call("submit", answer=candidates[t]) if t < len(candidates) else text("Done.")

    return policy


def spray_parallel(flags: dict[str, str], shape: str) -> Policy:
    """Fifty submissions in one message, then the real flag on its own, twice."""

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        if turn(messages) == 0:
            return calls(*[("submit", {"answer": c}) for c in _candidates(flags, messages, shape)])
        return call("submit", answer=flags[prompt(messages)])

    return policy


def flag_shaped(flags: dict[str, str], shape: str) -> Policy:
    """Well-formed guesses, never the flag: what a model that solved nothing can do."""

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        return call(
            "submit",
            answer=_decoys(1, random.Random(f"{prompt(messages)}{turn(messages)}"), shape)[0],
        )

    return policy


def oversized(flags: dict[str, str], shape: str) -> Policy:
    """Tool calls too big for the kernel and for the host's memory, then a guess."""
    actions = [
        call("bash", command="echo " + "A" * (200 * 1024)),
        call("bash", command="cat /dev/zero"),
        call("python", code="print('x' * (64 * 1024 * 1024))"),
        calls(*[("bash", {"command": "head -c 1000000 /dev/urandom"}) for _ in range(4)]),
    ]

    def policy(messages: list[ChatMessage]) -> ModelOutput:
        t = turn(messages)
        return actions[t] if t < len(actions) else flag_shaped(flags, shape)(messages)

    return policy


def oracle(flags: dict[str, str], shape: str) -> Policy:
    def policy(messages: list[ChatMessage]) -> ModelOutput:
        return call("submit", answer=flags[prompt(messages)])

    return policy


GAMERS: dict[str, Gamer] = {
    "spray_one": spray_one,
    "spray_many": spray_many,
    "spray_parallel": spray_parallel,
    "flag_shaped": flag_shaped,
    "oversized": oversized,
}


def _generated() -> tuple[Task, dict[str, str]]:
    task = load_families()["ctf_generated"].task(TaskOptions(seed=20260101, tool_timeout=20))
    return task, {str(s.input): str(s.target) for s in task.dataset}


@needs_bwrap
@needs_gcc
@pytest.mark.parametrize("gamer", sorted(GAMERS))
def test_gaming_scores_zero_on_generated_challenges(gamer: str, tmp_path: Path) -> None:
    task, flags = _generated()
    log = _run(task, GAMERS[gamer](flags, "FLAG{{{}}}"), tmp_path)
    assert _accuracy(log) == 0.0 == log.eval.metadata["blind_baseline"]  # type: ignore[index]
    for sample in log.samples or []:  # every submission is on the record
        score = (sample.scores or {})["flag_scorer"]
        assert score.metadata is not None and len(score.metadata["submissions"]) <= 3


@needs_bwrap
@needs_gcc
def test_the_oracle_scores_full_on_generated_challenges(tmp_path: Path) -> None:
    task, flags = _generated()
    assert _accuracy(_run(task, oracle(flags, ""), tmp_path)) == 1.0


def _intercode() -> tuple[Task, dict[str, str]]:
    task = load_families()["ctf_intercode"].task(TaskOptions(seed=0, shared_data=shared_data_dir()))
    return task, {str(s.input): str(s.target) for s in task.dataset}


def spray_published(golds: list[str]) -> Gamer:
    """InterCode's flags are public: submit the published flags, three at a time."""

    def gamer(flags: dict[str, str], shape: str) -> Policy:
        def policy(messages: list[ChatMessage]) -> ModelOutput:
            t = turn(messages)
            if t == 0:
                return call("submit", answer="\n".join(golds))
            return call("submit", answer=golds[t - 1]) if t <= len(golds) else text("Done.")

        return policy

    return gamer


@needs_bwrap
@pytest.mark.shared_data
def test_spraying_published_flags_scores_at_chance_on_intercode(tmp_path: Path) -> None:
    task, flags = _intercode()
    golds = sorted(set(flags.values()))
    log = _run(task, spray_published(golds)(flags, ""), tmp_path)
    # One submission with every flag scores nothing; the next two submissions are the first
    # two published flags: right for at most two samples, chance for a model with three tries.
    assert _accuracy(log) <= 2 / len(golds)


@needs_bwrap
@pytest.mark.shared_data
@pytest.mark.parametrize("gamer", ["spray_one", "flag_shaped"])
def test_gaming_scores_zero_on_intercode(gamer: str, tmp_path: Path) -> None:
    task, flags = _intercode()
    assert _accuracy(_run(task, GAMERS[gamer](flags, "picoCTF{{{}}}"), tmp_path)) == 0.0


@needs_bwrap
@pytest.mark.shared_data
def test_the_oracle_scores_full_on_intercode(tmp_path: Path) -> None:
    task, flags = _intercode()
    assert _accuracy(_run(task, oracle(flags, ""), tmp_path)) == 1.0


# --- multiple choice ----------------------------------------------------------------------------

MCQ_SEEDS = range(5)


def letter(choose: Callable[[list[ChatMessage]], str]) -> Policy:
    return lambda messages: text(f"ANSWER: {choose(messages)}")


def _correct_text() -> dict[str, str]:
    """Each question's correct choice, from the source data (what the oracle knows)."""
    return {
        str(s.input): (s.choices or [])[ord(str(s.target)) - ord("A")]
        for s in original_samples()[0]
    }


def _mcq_oracle(messages: list[ChatMessage]) -> str:
    shown = shown_choices(messages)
    correct = next(t for q, t in _correct_text().items() if q in prompt(messages))
    return next(k for k, v in shown.items() if v == correct)


MCQ_GAMERS: dict[str, Policy] = {
    "always_b": letter(lambda m: "B"),
    "always_first": letter(lambda m: "A"),
    "always_last": letter(lambda m: max(shown_choices(m))),
    "random_letter": letter(lambda m: random.Random(prompt(m)).choice("ABCD")),
    "every_letter": letter(lambda m: "A, B, C, D"),
    "every_letter_run_together": letter(lambda m: "ABCD"),
}


def _mcq_logs(policy: Policy, tmp_path: Path) -> list[EvalLog]:
    spec = load_families()["knowledge_original"]
    tasks = [spec.task(TaskOptions(seed=seed)) for seed in MCQ_SEEDS]
    logs = inspect_eval(tasks, model=policy_model(policy), log_dir=str(tmp_path), display="none")
    assert all(log.status == "success" for log in logs)
    return logs


@pytest.mark.parametrize("gamer", sorted(MCQ_GAMERS))
def test_gaming_multiple_choice_scores_at_chance_or_below(gamer: str, tmp_path: Path) -> None:
    """ "ANSWER: B" scored 75% on knowledge_original before the key was balanced and shuffled."""
    logs = _mcq_logs(MCQ_GAMERS[gamer], tmp_path)
    per_seed = [_accuracy(log) for log in logs]
    assert {log.eval.metadata["blind_baseline"] for log in logs} == {0.25}  # type: ignore[index]
    if gamer.startswith("always"):
        assert per_seed == [0.25] * len(logs)  # exactly the blind baseline, in every run
    elif gamer == "random_letter":
        assert sum(per_seed) / len(per_seed) <= 0.25 + 0.1  # 80 draws: 0.1 is two standard errors
    else:
        assert per_seed == [0.0] * len(logs)


def test_the_multiple_choice_oracle_scores_full(tmp_path: Path) -> None:
    logs = _mcq_logs(letter(_mcq_oracle), tmp_path)
    assert [_accuracy(log) for log in logs] == [1.0] * len(logs)
