"""When a reference run may be compared with a model's run, and the inputs the tier decision takes
about references.

Two runs are *comparable* when they ran the same tasks at the same versions on the same datasets
(equal sha256 digests: generated tasks draw their challenges from the seed, so this also means
the same seed), with the same epochs, the same sample limit, the same limits (messages, tokens,
seconds, tokens per generation) and the same scaffold. Anything not recorded on either side counts
as a difference: comparability is established, never assumed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearinghouse.evals.analysis.stats import Estimate, metric_key


@dataclass(frozen=True)
class TaskFingerprint:
    name: str
    version: str | None
    dataset_sha256: str | None


@dataclass(frozen=True)
class RunFingerprint:
    """What must match between a run and a reference run for their scores to be compared."""

    tasks: tuple[TaskFingerprint, ...]
    epochs: int | None
    limits: Mapping[str, Any] | None
    sample_limit: int | None = None
    scaffold: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RunFingerprint:
        """From an eval run's recorded `config` ({tasks: [{name, version, dataset_sha256}],
        epochs, limit, limits, scaffold}). Missing fields stay None and will not match."""
        tasks = tuple(
            TaskFingerprint(
                str(t.get("name")),
                None if t.get("version") is None else str(t["version"]),
                None if t.get("dataset_sha256") is None else str(t["dataset_sha256"]),
            )
            for t in config.get("tasks") or []
            if isinstance(t, Mapping)
        )
        epochs = config.get("epochs")
        limits = config.get("limits")
        limit = config.get("limit")
        scaffold = config.get("scaffold")
        return cls(
            tasks,
            epochs if isinstance(epochs, int) else None,
            limits if isinstance(limits, Mapping) else None,
            limit if isinstance(limit, int) else None,
            None if scaffold is None else str(scaffold),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "tasks": [
                {"name": t.name, "version": t.version, "dataset_sha256": t.dataset_sha256}
                for t in self.tasks
            ],
            "epochs": self.epochs,
            "limit": self.sample_limit,
            "limits": dict(self.limits) if self.limits is not None else None,
            "scaffold": self.scaffold,
        }

    def differences(self, reference: RunFingerprint) -> list[str]:
        """What differs between this run (first) and `reference` (second); empty: comparable."""
        out: list[str] = []
        mine = {t.name: t for t in self.tasks}
        theirs = {t.name: t for t in reference.tasks}
        if not mine:
            out.append("this run's tasks were not recorded")
        if only_here := sorted(mine.keys() - theirs.keys()):
            out.append(f"tasks not in the reference run: {', '.join(only_here)}")
        if only_there := sorted(theirs.keys() - mine.keys()):
            out.append(f"tasks only in the reference run: {', '.join(only_there)}")
        for name in sorted(mine.keys() & theirs.keys()):
            a, b = mine[name], theirs[name]
            out += _differ(f"{name} version", a.version, b.version)
            out += _differ(
                f"{name} dataset sha256",
                a.dataset_sha256,
                b.dataset_sha256,
                lambda v: f"{v[:12]}…",
            )
        out += _differ("epochs", self.epochs, reference.epochs)
        out += _differ("sample limit", self.sample_limit, reference.sample_limit, allow_none=True)
        if self.limits is None or reference.limits is None:
            out += _differ("limits", self.limits, reference.limits)
        else:
            for key in sorted(set(self.limits) | set(reference.limits)):
                out += _differ(
                    f"limit {key}",
                    self.limits.get(key),
                    reference.limits.get(key),
                    allow_none=True,
                )
        out += _differ("scaffold", self.scaffold, reference.scaffold)
        return out


def _differ(
    what: str,
    a: Any,
    b: Any,
    show: Any = None,
    *,
    allow_none: bool = False,
) -> list[str]:
    """'<what>: <a> vs <b>' when they differ, or when either is unrecorded (unless None is a
    legitimate value, like 'no sample limit')."""
    if not allow_none and (a is None or b is None):
        missing = "this run" if a is None else "the reference run"
        if a is None and b is None:
            missing = "either run"
        return [f"{what} not recorded for {missing}"]
    if _canonical(a) == _canonical(b):
        return []
    fmt = show or (lambda v: json.dumps(v, sort_keys=True, default=str))
    return [
        f"{what}: {fmt(a) if a is not None else 'none'} vs {fmt(b) if b is not None else 'none'}"
    ]


def _canonical(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


@dataclass(frozen=True)
class Reference:
    """A reference model's latest succeeded run: its scores by metric (`ctf.accuracy`), and its
    recorded configuration (None when unknown, which makes it not comparable)."""

    name: str
    metrics: Mapping[str, Estimate]
    fingerprint: RunFingerprint | None
    run_id: str | None = None

    @classmethod
    def from_run(
        cls,
        name: str,
        config: Mapping[str, Any] | None,
        scores: list[Mapping[str, Any]],
        run_id: str | None = None,
    ) -> Reference:
        """From a reference run's stored `config` and `results["scores"]` rows. Bounds are
        recomputed from each row's rate and clusters (`Estimate.from_score`); a malformed row
        (no rate or clusters, a rate outside [0, 1]) is left out rather than failing the run."""
        metrics: dict[str, Estimate] = {}
        for s in scores:
            task, metric = str(s.get("task", "")), str(s.get("metric", ""))
            if not task or not metric:
                continue
            try:
                metrics[metric_key(task, metric)] = Estimate.from_score(s)
            except (KeyError, TypeError, ValueError):
                continue
        return cls(
            name,
            metrics,
            RunFingerprint.from_config(config) if config else None,
            run_id,
        )


@dataclass(frozen=True)
class ReferenceCheck:
    """Whether a reference may be compared with the run, and why not."""

    name: str
    run_id: str | None
    comparable: bool
    differences: list[str]
    config: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run_id": self.run_id,
            "comparable": self.comparable,
            "differences": self.differences,
            "config": self.config,
        }


def check(run: RunFingerprint | None, reference: Reference) -> ReferenceCheck:
    if reference.fingerprint is None:
        diffs = ["the reference run's configuration is not known"]
    elif run is None:
        diffs = ["this run's configuration was not given"]
    else:
        diffs = run.differences(reference.fingerprint)
    summary = reference.fingerprint.summary() if reference.fingerprint is not None else {}
    return ReferenceCheck(reference.name, reference.run_id, not diffs, diffs, summary)
