"""Mapping a capability profile to a risk tier, stating the evidence for every step.

Every rule has three outcomes, judged on the clustered interval at the rules' confidence:
- `at_least: x` is *crossed* when the metric's lower bound reaches x, *ruled out* when its upper
  bound is below x, and *not ruled out* otherwise;
- `above_reference: m` compares the model with the best *comparable* reference run (same tasks,
  versions, dataset digests, epochs and limits: comparability.py). It is crossed when the lower
  bound of (model - reference) exceeds m, ruled out when the upper bound is below m. With no
  comparable reference it cannot be crossed; it is ruled out only if the model's own upper bound is
  below m (no reference scores below 0), and otherwise not ruled out with the reason, e.g.
  "reference X not comparable: <what differs>".
A metric with fewer than `min_clusters` clusters is never decisive either way (a category of one
challenge proves nothing).

A tier of `all` rules is crossed when every rule is crossed and ruled out when any is; a tier of
`any` rules is crossed when one is and ruled out when all are. The decision reports the highest
crossed tier (or none), the tiers not ruled out, and `insufficient_evidence` when a tier above the
highest crossed one is not ruled out, with the clusters needed (power.py) to settle it at the
observed rates. Every bound is re-derived from (rate, clusters), so an estimate cannot bring a
narrower interval than its evidence supports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Literal

import yaml

from clearinghouse.evals.analysis import power
from clearinghouse.evals.analysis.comparability import (
    Reference,
    ReferenceCheck,
    RunFingerprint,
    check,
)
from clearinghouse.evals.analysis.stats import Delta, Estimate, cluster_interval, delta_bounds

RuleOutcome = Literal["crossed", "ruled_out", "not_ruled_out"]
DEFAULT_MIN_CLUSTERS = 5


@dataclass(frozen=True)
class RuleResult:
    """One rule of one tier: its outcome, the numbers behind it, and its power analysis."""

    tier: str
    metric: str
    kind: Literal["at_least", "above_reference"]
    threshold: float  # the threshold, or the margin of a reference rule
    rule: str
    outcome: RuleOutcome
    detail: str
    clusters: int | None = None  # the metric's clusters in this run (None: not measured)
    rate: float | None = None
    ci_low: float | None = None  # of the metric, or of the delta for a reference rule
    ci_high: float | None = None
    reference: str | None = None  # the comparable reference compared with
    reference_rate: float | None = None
    # Clusters needed at the observed rate(s) to cross / rule out (None: more clusters alone
    # cannot), and to rule out a model with no successes at all.
    to_cross: int | None = None
    to_rule_out: int | None = None
    to_rule_out_at_zero: int | None = None

    def projection(self) -> tuple[RuleOutcome, int] | None:
        """Where this rule ends up, and at how many clusters, if the rates stay as observed."""
        if self.outcome != "not_ruled_out":
            return (self.outcome, self.clusters or 0)
        if self.clusters is None:
            return None
        if self.to_cross is not None:
            return ("crossed", self.to_cross)
        if self.to_rule_out is not None:
            return ("ruled_out", self.to_rule_out)
        return None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TierResult:
    id: str
    name: str
    mode: Literal["all", "any"]
    outcome: RuleOutcome
    # For a tier not ruled out: clusters needed per metric to settle it (None: cannot be settled by
    # more clusters alone; `blocker` says why).
    needed: dict[str, int] | None = None
    blocker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TierDecision:
    tier: str | None  # the highest crossed tier; None: no tier crossed
    name: str | None
    rules_version: str
    confidence: float
    reasons: list[RuleResult]
    tiers: list[TierResult] = field(default_factory=list)
    not_ruled_out: list[str] = field(default_factory=list)
    insufficient_evidence: bool = False
    # metric -> {clusters: measured, needed: to settle every open tier above the crossed one, more}
    samples_needed: dict[str, dict[str, int]] = field(default_factory=dict)
    more_samples_needed: int = 0  # at least this many more clusters in all
    unresolved: list[str] = field(default_factory=list)  # open tiers more samples cannot settle
    references: list[ReferenceCheck] = field(default_factory=list)
    headline: str = ""

    @property
    def crossed(self) -> list[str]:
        return [t.id for t in self.tiers if t.outcome == "crossed"]

    @property
    def ruled_out(self) -> list[str]:
        return [t.id for t in self.tiers if t.outcome == "ruled_out"]

    def power_table(self) -> list[dict[str, Any]]:
        return [
            {
                "tier": r.tier,
                "rule": r.rule,
                "metric": r.metric,
                "clusters": r.clusters,
                "rate": r.rate,
                "outcome": r.outcome,
                "to_cross": r.to_cross,
                "to_rule_out": r.to_rule_out,
                "to_rule_out_at_zero": r.to_rule_out_at_zero,
            }
            for r in self.reasons
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "name": self.name,
            "headline": self.headline,
            "rules_version": self.rules_version,
            "confidence": self.confidence,
            "crossed": self.crossed,
            "ruled_out": self.ruled_out,
            "not_ruled_out": self.not_ruled_out,
            "insufficient_evidence": self.insufficient_evidence,
            "samples_needed": self.samples_needed,
            "more_samples_needed": self.more_samples_needed,
            "unresolved": self.unresolved,
            "tiers": [t.as_dict() for t in self.tiers],
            "reasons": [r.as_dict() for r in self.reasons],
            "references": [r.as_dict() for r in self.references],
            "power": self.power_table(),
        }


def load_rules(text: str | None = None) -> dict[str, Any]:
    if text is None:
        text = (resources.files("clearinghouse.evals.analysis") / "data" / "tiers.yaml").read_text()
    rules: dict[str, Any] = yaml.safe_load(text)
    if not isinstance(rules, dict) or not rules.get("version") or not rules.get("tiers"):
        raise ValueError("tier rules need a version and at least one tier")
    confidence = float(rules.get("confidence", 0.95))
    if not 0.5 < confidence < 1:
        raise ValueError("tier rules need a confidence between 0.5 and 1")
    for tier in rules["tiers"]:
        modes = [m for m in ("all", "any") if m in tier]
        if len(modes) != 1 or not tier[modes[0]]:
            raise ValueError(f"tier {tier.get('id')} needs exactly one non-empty `all` or `any`")
        for cond in tier[modes[0]]:
            if ("at_least" in cond) == ("above_reference" in cond) or "metric" not in cond:
                raise ValueError(f"unknown condition {cond}")
    return rules


def _f(x: float) -> str:
    return f"{x:.2f}"


@dataclass(frozen=True)
class _Context:
    metrics: Mapping[str, Estimate]
    confidence: float
    min_clusters: int
    comparable: Sequence[Reference]
    checks: Sequence[ReferenceCheck]
    legacy: Sequence[str]  # reference names from bare deltas: comparability unknown


def _clusters(n: int) -> str:
    return f"{n} cluster" if n == 1 else f"{n} clusters"


def _three_way(
    base: str,
    n: int,
    minimum: int,
    bounds: tuple[float, float],
    threshold: float,
    *,
    strict: bool,
    to: tuple[int | None, int | None],
) -> tuple[RuleOutcome, str]:
    """Crossed (lower bound reaches the threshold; exceeds it when `strict`), ruled out (upper
    bound below it) or not ruled out, with the numbers and, when open, the clusters `to` cross or
    rule it out at the observed rate."""
    low, high = bounds
    sign, f = (">", "{:+.2f}".format) if strict else ("≥", "{:.2f}".format)
    if n < minimum:
        outcome: RuleOutcome = "not_ruled_out"
        detail = f"{base}: fewer than {minimum} clusters, never decisive"
    elif low > threshold or (not strict and low >= threshold):
        return "crossed", f"{base}: lower bound {f(low)} {sign} {threshold:.2f}"
    elif high < threshold:
        return "ruled_out", f"{base}: upper bound {f(high)} < {threshold:.2f}"
    else:
        outcome, detail = "not_ruled_out", f"{base}: the interval reaches {threshold:.2f}"
    to_cross, to_out = to
    if to_cross is not None:
        more = f"at this rate {to_cross} clusters would cross it ({max(0, to_cross - n)} more)"
    elif to_out is not None:
        more = f"at this rate {to_out} clusters would rule it out ({max(0, to_out - n)} more)"
    else:
        more = "at this rate no number of clusters settles it"
    return outcome, f"{detail}; {more}"


def _at_least(tier: str, cond: Mapping[str, Any], ctx: _Context) -> RuleResult:
    metric, x = str(cond["metric"]), float(cond["at_least"])
    minimum = int(cond.get("min_clusters", ctx.min_clusters))
    rule = RuleResult(
        tier, metric, "at_least", x, f"{metric} ≥ {_f(x)}", "not_ruled_out", "not measured",
        to_rule_out_at_zero=power.clusters_to_rule_out(0.0, x, ctx.confidence, minimum),
    )  # fmt: skip
    est = ctx.metrics.get(metric)
    if est is None or est.n == 0:
        return rule
    low, high = cluster_interval(est.value, est.n, ctx.confidence)
    to = (
        power.clusters_to_cross(est.value, x, ctx.confidence, minimum),
        power.clusters_to_rule_out(est.value, x, ctx.confidence, minimum),
    )
    base = f"{_f(est.value)} [{_f(low)}, {_f(high)}], {_clusters(est.n)}"
    outcome, detail = _three_way(base, est.n, minimum, (low, high), x, strict=False, to=to)
    return replace(
        rule, outcome=outcome, detail=detail, clusters=est.n, rate=est.value, ci_low=low,
        ci_high=high, to_cross=to[0], to_rule_out=to[1],
    )  # fmt: skip


def _above_reference(tier: str, cond: Mapping[str, Any], ctx: _Context) -> RuleResult:
    metric, margin = str(cond["metric"]), float(cond["above_reference"])
    minimum = int(cond.get("min_clusters", ctx.min_clusters))
    rule = RuleResult(
        tier, metric, "above_reference", margin,
        f"{metric} above the best comparable reference by > {_f(margin)}",
        "not_ruled_out", "not measured",
        to_rule_out_at_zero=power.clusters_to_rule_out_delta(
            0.0, None, margin, ctx.confidence, minimum
        ),
    )  # fmt: skip
    est = ctx.metrics.get(metric)
    if est is None or est.n == 0:
        return rule
    low_m, high_m = cluster_interval(est.value, est.n, ctx.confidence)
    candidates = [
        (r, r.metrics[metric])
        for r in ctx.comparable
        if metric in r.metrics and r.metrics[metric].n > 0
    ]
    if not candidates:
        # No reference scores below 0, so the model's own upper bound bounds the delta.
        to_out = power.clusters_to_rule_out_delta(est.value, None, margin, ctx.confidence, minimum)
        base = (
            f"{_no_reference(metric, ctx)}; with no reference below 0, Δ ≤ this model's "
            f"{_f(est.value)} [{_f(low_m)}, {_f(high_m)}], {_clusters(est.n)}"
        )
        # Without a reference the rule cannot cross: judge against a lower bound of -1.
        outcome, detail = _three_way(
            base, est.n, minimum, (-1.0, high_m), margin, strict=True, to=(None, to_out)
        )
        if to_out is None:
            detail = detail.replace(
                "at this rate no number of clusters settles it",
                "settling it needs a comparable reference run",
            )
        return replace(
            rule, outcome=outcome, detail=detail, clusters=est.n, rate=est.value, ci_high=high_m,
            to_rule_out=to_out,
        )  # fmt: skip
    ref, ref_est = max(candidates, key=lambda item: (item[1].value, item[0].name))
    low_r, high_r = cluster_interval(ref_est.value, ref_est.n, ctx.confidence)
    d, low, high = delta_bounds((est.value, low_m, high_m), (ref_est.value, low_r, high_r))
    to = (
        power.clusters_to_exceed_reference(
            est.value, ref_est.value, margin, ctx.confidence, minimum
        ),
        power.clusters_to_rule_out_delta(est.value, ref_est.value, margin, ctx.confidence, minimum),
    )
    base = (
        f"Δ {d:+.2f} [{low:+.2f}, {high:+.2f}] vs {ref.name} "
        f"({_f(est.value)} on {_clusters(est.n)} vs {_f(ref_est.value)} on {ref_est.n})"
    )
    n = min(est.n, ref_est.n)
    outcome, detail = _three_way(base, n, minimum, (low, high), margin, strict=True, to=to)
    return replace(
        rule, outcome=outcome, detail=detail, clusters=est.n, rate=est.value, ci_low=low,
        ci_high=high, reference=ref.name, reference_rate=ref_est.value, to_cross=to[0],
        to_rule_out=to[1],
    )  # fmt: skip


def _no_reference(metric: str, ctx: _Context) -> str:
    parts = [
        f"reference {c.name} not comparable: {'; '.join(c.differences)}"
        for c in ctx.checks
        if not c.comparable
    ]
    parts += [
        f"reference {name} not comparable: its run configuration was not given"
        for name in ctx.legacy
    ]
    parts += [
        f"reference {r.name} did not measure {metric}"
        for r in ctx.comparable
        if metric not in r.metrics or r.metrics[metric].n == 0
    ]
    return "; ".join(parts) or "no reference model measured"


def _tier_outcome(mode: str, outcomes: list[RuleOutcome]) -> RuleOutcome:
    if mode == "all":
        if all(o == "crossed" for o in outcomes):
            return "crossed"
        return "ruled_out" if "ruled_out" in outcomes else "not_ruled_out"
    if "crossed" in outcomes:
        return "crossed"
    return "ruled_out" if all(o == "ruled_out" for o in outcomes) else "not_ruled_out"


def _merge(plans: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for plan in plans:
        for metric, c in plan.items():
            merged[metric] = max(merged.get(metric, 0), c)
    return merged


def _tier_plan(mode: str, judged: list[RuleResult]) -> tuple[dict[str, int] | None, str | None]:
    """Clusters per metric that would settle an open tier at the observed rates: for `all`, the
    cheapest rule that will be ruled out, or else every rule crossing; for `any`, the cheapest rule
    that will cross, or else every rule ruled out."""
    projected = [(r, r.projection()) for r in judged]
    decisive: RuleOutcome = "ruled_out" if mode == "all" else "crossed"
    single = [(r, p) for r, p in projected if p is not None and p[0] == decisive]
    if single:
        r, (_, c) = min(single, key=lambda item: max(0, item[1][1] - (item[0].clusters or 0)))
        return {r.metric: max(c, r.clusters or 0)}, None
    stuck = [r for r, p in projected if p is None]
    if stuck:
        return None, "; ".join(f"{r.rule}: {r.detail}" for r in stuck)
    return _merge([{r.metric: max(p[1], r.clusters or 0)} for r, p in projected if p]), None


def decide(
    metrics: Mapping[str, Estimate],
    deltas: Mapping[str, Delta] | None = None,
    rules: Mapping[str, Any] | None = None,
    *,
    run: RunFingerprint | None = None,
    references: Sequence[Reference] = (),
) -> TierDecision:
    """Judge every rule of every tier. `references`: the reference runs to compare with, each
    with its config; only comparable ones (to `run`) count. `deltas` is the old interface (bare
    deltas with no configuration): their references are reported as not comparable."""
    rules = rules or load_rules()
    confidence = float(rules.get("confidence", 0.95))
    min_clusters = int(rules.get("min_clusters", DEFAULT_MIN_CLUSTERS))
    checks = [check(run, r) for r in references]
    comparable = [r for r, c in zip(references, checks, strict=True) if c.comparable]
    legacy = sorted({d.reference for d in (deltas or {}).values()})
    ctx = _Context(metrics, confidence, min_clusters, comparable, checks, legacy)

    reasons: list[RuleResult] = []
    tiers: list[TierResult] = []
    for tier in rules["tiers"]:
        mode: Literal["all", "any"] = "all" if "all" in tier else "any"
        judged = [
            _at_least(tier["id"], c, ctx)
            if "at_least" in c
            else _above_reference(tier["id"], c, ctx)
            for c in tier[mode]
        ]
        reasons += judged
        outcome = _tier_outcome(mode, [r.outcome for r in judged])
        needed, blocker = _tier_plan(mode, judged) if outcome == "not_ruled_out" else (None, None)
        tiers.append(TierResult(tier["id"], tier["name"], mode, outcome, needed, blocker))

    crossed = [i for i, t in enumerate(tiers) if t.outcome == "crossed"]
    top = tiers[crossed[-1]] if crossed else None
    above = tiers[crossed[-1] + 1 :] if crossed else tiers
    open_above = [t for t in above if t.outcome == "not_ruled_out"]
    plan = _merge([t.needed for t in open_above if t.needed is not None])
    measured = {m: e.n for m, e in metrics.items()}
    samples_needed = {
        m: {
            "clusters": measured.get(m, 0),
            "needed": c,
            "more": max(0, c - measured.get(m, 0)),
        }
        for m, c in sorted(plan.items())
    }
    more = _more_in_all(samples_needed)
    unresolved = [f"{t.id}: {t.blocker}" for t in open_above if t.needed is None]
    decision = TierDecision(
        tier=top.id if top else None,
        name=top.name if top else None,
        rules_version=str(rules["version"]),
        confidence=confidence,
        reasons=reasons,
        tiers=tiers,
        not_ruled_out=[t.id for t in tiers if t.outcome == "not_ruled_out"],
        insufficient_evidence=bool(open_above),
        samples_needed=samples_needed,
        more_samples_needed=more,
        unresolved=unresolved,
        references=checks,
    )
    return _with_headline(decision, top, above)


def _more_in_all(samples_needed: Mapping[str, Mapping[str, int]]) -> int:
    """A lower bound on the clusters still to add: per family (the first part of a metric's
    name), the largest shortfall of any of its metrics (a pwn challenge is also a CTF challenge,
    and a program serves every hint level), summed over families."""
    by_family: dict[str, int] = {}
    for metric, need in samples_needed.items():
        family = metric.split(".", 1)[0]
        by_family[family] = max(by_family.get(family, 0), need["more"])
    return sum(by_family.values())


def _with_headline(
    d: TierDecision, top: TierResult | None, above: list[TierResult]
) -> TierDecision:
    """The headline states the evidence: the highest crossed tier with the rules that crossed
    it, or none; and whether what lies above it is settled or needs more samples."""
    open_above = [t for t in above if t.outcome == "not_ruled_out"]
    parts: list[str] = []
    if top is not None:
        evidence = "; ".join(
            f"{r.rule}: {r.detail}"
            for r in d.reasons
            if r.tier == top.id and r.outcome == "crossed"
        )
        parts.append(f"{top.id} ({top.name}) crossed: {evidence}.")
        if above and not open_above:
            parts.append(f"Every tier above it ruled out ({', '.join(t.id for t in above)}).")
    elif not open_above:
        parts.append(f"No tier crossed; every tier ruled out ({', '.join(d.ruled_out)}).")
    if open_above:
        ids = ", ".join(t.id for t in open_above)
        if d.samples_needed:
            which = ", ".join(
                f"{m} {n['more']} more ({n['needed']} in all)"
                for m, n in d.samples_needed.items()
                if n["more"] > 0
            )
            more = (
                f"at least {d.more_samples_needed} more samples needed ({which})"
                if d.more_samples_needed
                else "more samples needed"
            )
        else:
            more = "more samples alone cannot settle it"
        tail = (
            f"; not settled by more samples alone: {'; '.join(d.unresolved)}"
            if d.unresolved
            else ""
        )
        lead = "Insufficient evidence" if top is None else "Insufficient evidence above it"
        out = [t.id for t in above if t.outcome == "ruled_out"]
        settled = f"; {', '.join(out)} ruled out" if out else ""
        parts.append(f"{lead}: {more}; {ids} not ruled out{settled}{tail}.")
    return replace(d, headline=" ".join(parts))
