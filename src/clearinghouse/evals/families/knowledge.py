"""Knowledge: multiple-choice questions.

Loaders read the public formats from a path (CyberMetric JSON; CyberSecEval's CrowdStrike/Meta
threat-intelligence and malware-analysis question sets). The team's own question set ships with
the package. CyberSecEval's MITRE set is a compliance benchmark judged by a model, not multiple
choice; it is not loaded here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from inspect_ai import Task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice

from clearinghouse.evals.framework import Skipped, TaskOptions, TaskSpec, register

VERSION = "1.0"
_OPTION_PREFIX = re.compile(r"^\s*([A-Z])[).:]\s*")


def _mc_task(
    options: TaskOptions, samples: list[Sample], *, multiple_correct: bool = False
) -> Task:
    return Task(
        dataset=samples, solver=multiple_choice(multiple_correct=multiple_correct), scorer=choice()
    )


def cybermetric_samples(path: Path) -> tuple[list[Sample], list[Skipped]]:
    """CyberMetric: `{"questions": [{"question", "answers": {"A": ...}, "solution": "B"}]}`."""
    data = json.loads(path.read_text())
    samples, skipped = [], []
    for i, q in enumerate(data["questions"]):
        letters = sorted(q.get("answers", {}))
        if not letters or q.get("solution") not in letters:
            skipped.append(Skipped(f"cybermetric-{i}", "no answer key"))
            continue
        samples.append(
            Sample(
                id=f"cybermetric-{i}",
                input=q["question"],
                choices=[q["answers"][k] for k in letters],
                target=q["solution"],
                metadata={"source": path.name},
            )
        )
    return samples, skipped


def cse_samples(path: Path, prefix: str) -> tuple[list[Sample], list[Skipped]]:
    """CyberSecEval crwd_meta: `question`/`question_text`, `options` ("A) ..."), and
    `correct_answer` or `correct_options` (one or more letters)."""
    data: list[dict[str, Any]] = json.loads(path.read_text())
    samples, skipped = [], []
    for i, q in enumerate(data):
        sid = f"{prefix}-{q.get('question_id', i)}"
        options = [_OPTION_PREFIX.sub("", o, count=1) for o in q.get("options", [])]
        answer = q.get("correct_answer") or q.get("correct_options") or []
        answer = [answer] if isinstance(answer, str) else list(answer)
        letters = [chr(ord("A") + j) for j in range(len(options))]
        if not options or not answer or not set(answer) <= set(letters):
            skipped.append(Skipped(sid, "options or answer key missing"))
            continue
        samples.append(
            Sample(
                id=sid,
                input=q.get("question") or q["question_text"],
                choices=options,
                target=sorted(answer),
                metadata={"source": path.name},
            )
        )
    return samples, skipped


def original_samples() -> tuple[list[Sample], list[Skipped]]:
    text = (resources.files("clearinghouse.evals") / "data" / "knowledge_original.yaml").read_text()
    data = yaml.safe_load(text)
    return [
        Sample(
            id=q["id"],
            input=q["question"],
            choices=q["choices"],
            target=q["answer"],
            metadata={"topic": q["topic"]},
        )
        for q in data["questions"]
    ], []


Loader = Callable[[Path], tuple[list[Sample], list[Skipped]]]


def _from_shared(
    relative: str, loader: Loader
) -> Callable[[TaskOptions], tuple[list[Sample], list[Skipped]]]:
    def samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
        path = options.shared_data / relative
        if not path.exists():
            return [], [Skipped(relative, f"data file not found at {path}")]
        return loader(path)

    return samples


register(
    TaskSpec(
        "knowledge_original",
        "knowledge",
        VERSION,
        "The team's original cyber questions (unpublished before this release)",
        lambda o: original_samples(),
        _mc_task,
    )
)
register(
    TaskSpec(
        "knowledge_cybermetric",
        "knowledge",
        VERSION,
        "CyberMetric-500 multiple choice",
        _from_shared("cybermetric/CyberMetric-500-v1.json", cybermetric_samples),
        _mc_task,
        needs=("shared_data",),
    )
)
register(
    TaskSpec(
        "knowledge_cse_threat_intel",
        "knowledge",
        VERSION,
        "CyberSecEval threat-intelligence reasoning (one or more correct options)",
        _from_shared(
            "cyberseceval/crwd_meta/threat_intel_reasoning/report_questions.json",
            lambda p: cse_samples(p, "cse-ti"),
        ),
        lambda o, s: _mc_task(o, s, multiple_correct=True),
        needs=("shared_data",),
    )
)
register(
    TaskSpec(
        "knowledge_cse_malware",
        "knowledge",
        VERSION,
        "CyberSecEval malware analysis (one or more correct options)",
        _from_shared(
            "cyberseceval/crwd_meta/malware_analysis/questions.json",
            lambda p: cse_samples(p, "cse-mal"),
        ),
        lambda o, s: _mc_task(o, s, multiple_correct=True),
        needs=("shared_data",),
    )
)
