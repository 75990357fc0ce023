"""Mapping a capability profile to a risk tier, with "cannot rule out" logic and reasons.

A condition `at_least: x` is *crossed* when the metric's upper CI bound reaches x (we cannot
rule out that the true value does). `above_reference: d` is crossed when the upper CI bound of
(model - best reference model) exceeds d. A condition on a metric that was not measured is
*unknown*. A tier is reached when its conditions are crossed (`all` or `any`); a tier that is
neither reached nor ruled out is reported as `not_ruled_out`, with the missing metrics, rather
than silently treated as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml

from clearinghouse.evals.analysis.stats import Delta, Estimate

Verdict = Literal["crossed", "not_crossed", "unknown"]


@dataclass(frozen=True)
class Reason:
    tier: str
    metric: str
    rule: str
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class TierDecision:
    tier: str
    name: str
    rules_version: str
    reasons: list[Reason]
    not_ruled_out: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "name": self.name,
            "rules_version": self.rules_version,
            "not_ruled_out": self.not_ruled_out,
            "reasons": [r.__dict__ for r in self.reasons],
        }


def load_rules(text: str | None = None) -> dict[str, Any]:
    if text is None:
        text = (resources.files("clearinghouse.evals.analysis") / "data" / "tiers.yaml").read_text()
    rules: dict[str, Any] = yaml.safe_load(text)
    if not rules.get("version") or not rules.get("tiers"):
        raise ValueError("tier rules need a version and at least one tier")
    return rules


def _judge(
    tier: str, cond: dict[str, Any], metrics: dict[str, Estimate], deltas: dict[str, Delta]
) -> Reason:
    metric = cond["metric"]
    if "at_least" in cond:
        threshold = float(cond["at_least"])
        rule = f"{metric} upper 95% CI ≥ {threshold:.2f}"
        est = metrics.get(metric)
        if est is None:
            return Reason(tier, metric, rule, "unknown", "not measured")
        crossed = est.ci_high >= threshold
        return Reason(
            tier,
            metric,
            rule,
            "crossed" if crossed else "not_crossed",
            f"{est.value:.2f} [{est.ci_low:.2f}, {est.ci_high:.2f}], n={est.n}",
        )
    if "above_reference" in cond:
        margin = float(cond["above_reference"])
        rule = f"{metric}: upper 95% CI of (model - best reference) > {margin:+.2f}"
        d = deltas.get(metric)
        if d is None:
            return Reason(
                tier, metric, rule, "unknown", "no reference model measured on this metric"
            )
        crossed = d.ci_high > margin
        return Reason(
            tier,
            metric,
            rule,
            "crossed" if crossed else "not_crossed",
            f"Δ {d.value:+.2f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}] vs {d.reference}",
        )
    raise ValueError(f"unknown condition {cond}")


def decide(
    metrics: dict[str, Estimate],
    deltas: dict[str, Delta] | None = None,
    rules: dict[str, Any] | None = None,
) -> TierDecision:
    """The highest tier whose conditions are crossed (T0 when none), with every reason."""
    rules = rules or load_rules()
    deltas = deltas or {}
    reached, reached_name = "T0", "baseline"
    reasons: list[Reason] = []
    open_tiers: list[str] = []
    for tier in rules["tiers"]:
        mode = "all" if "all" in tier else "any"
        judged = [_judge(tier["id"], c, metrics, deltas) for c in tier[mode]]
        reasons += judged
        verdicts = [r.verdict for r in judged]
        if mode == "all":
            hit = all(v == "crossed" for v in verdicts)
            ruled_out = any(v == "not_crossed" for v in verdicts)
        else:
            hit = any(v == "crossed" for v in verdicts)
            ruled_out = all(v == "not_crossed" for v in verdicts)
        if hit:
            reached, reached_name = tier["id"], tier["name"]
        elif not ruled_out:
            open_tiers.append(tier["id"])
    above = [t for t in open_tiers if t > reached]
    return TierDecision(reached, reached_name, str(rules["version"]), reasons, above)
