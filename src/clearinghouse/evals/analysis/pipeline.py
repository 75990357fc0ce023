"""One call from a finished run's outcomes to everything the run records and the report shows:
estimates, the tier decision, deltas against the best comparable reference, and the reference
estimates for the charts.

The caller fills the inputs from what the run has: an `Outcome` per scored sample and epoch (with
`cluster=cluster_id(sample.id, sample.metadata)`), the run's recorded `config`, and a `Reference`
per reference model (`Reference.from_run(name, ref.config, ref.results["scores"], ref.id)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearinghouse.evals.analysis.comparability import Reference, RunFingerprint
from clearinghouse.evals.analysis.stats import (
    CONFIDENCE,
    Delta,
    Estimate,
    Outcome,
    delta,
    summarise,
)
from clearinghouse.evals.analysis.tiers import TierDecision, decide, load_rules


@dataclass(frozen=True)
class Analysis:
    estimates: dict[str, Estimate]  # every metric, task-level (`task:...`) included
    decision: TierDecision
    deltas: dict[str, Delta]  # family metrics vs the best comparable reference measuring them
    chart_references: dict[str, list[tuple[str, Estimate]]]  # metric -> every reference's estimate


def analyse(
    outcomes: list[Outcome],
    config: Mapping[str, Any],
    references: Sequence[Reference] = (),
    rules: Mapping[str, Any] | None = None,
) -> Analysis:
    rules = rules or load_rules()
    confidence = float(rules.get("confidence", CONFIDENCE))
    estimates = summarise(outcomes, confidence) if outcomes else {}
    family = {k: v for k, v in estimates.items() if not k.startswith("task:")}
    decision = decide(
        family, rules=rules, run=RunFingerprint.from_config(config), references=references
    )
    comparable = {c.name for c in decision.references if c.comparable}
    deltas: dict[str, Delta] = {}
    for metric, est in family.items():
        measured = [
            (r.name, r.metrics[metric])
            for r in references
            if r.name in comparable and metric in r.metrics
        ]
        if measured:
            name, ref = max(measured, key=lambda item: (item[1].value, item[0]))
            deltas[metric] = delta(est, ref, name)
    charts: dict[str, list[tuple[str, Estimate]]] = {}
    for r in references:
        for metric, est in r.metrics.items():
            charts.setdefault(metric, []).append((r.name, est))
    return Analysis(estimates, decision, deltas, charts)
