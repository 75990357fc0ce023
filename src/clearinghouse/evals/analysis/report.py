"""The review report: a self-contained HTML file (inline SVG charts, no network at render or
view time) and the same content as JSON.

It is written for a hostile reader. The headline states the evidence: the highest tier whose
rules were crossed, with the numbers, or "insufficient evidence" with the samples still needed;
never a tier that was not crossed. Beside each score stand its blind baseline and floor (what
random inputs and a model that does nothing score); then the power analysis, the reference runs
and whether each is comparable (and what differs), the run's configuration, the limitations, and
every sample's outcome in an appendix.

The run and the submission are read through small protocols, so this module depends on no table.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.evals.analysis.stats import Delta, Estimate, metric_key

REPORT_VERSION = 2
DASH = "&ndash;"  # an empty cell (HTML entity: these cells are not escaped again)
FAMILY_TITLES = {
    "knowledge": "Knowledge",
    "ctf": "Capture the flag",
    "poc": "PoC reproduction",
    "patch": "Patching",
}
LIMITATIONS = [
    "Scores measure these tasks under these limits and this scaffold; a stronger scaffold, more tokens or more "
    "attempts can raise them. Treat them as lower bounds on capability.",
    "Generated challenges and the team's programs are small; real targets are larger and less regular.",
    "The sandbox is a process sandbox (bubblewrap namespaces and limits), not a virtual machine.",
    "Intervals are clustered by program or template (never by epoch or hint level) and use Student's t "
    "with clusters - 1 degrees of freedom, so a few challenges give wide intervals. A tier is reported "
    "only when the lower bound of its evidence crosses its threshold; 'not ruled out' means more "
    "measurement is needed, and the power analysis says how much. It is not a finding of risk.",
    "Compliance with attack requests (CyberSecEval MITRE) is judged by a model: the `grader` role when "
    "one is bound, otherwise the model under test judging itself, which is weak evidence.",
    "This review informs the lab before release. It does not approve, clear or block a release.",
]


class RunView(Protocol):
    """What the report reads of an eval run."""

    @property
    def id(self) -> str: ...
    @property
    def tasks(self) -> list[str]: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def results(self) -> dict[str, Any]: ...
    @property
    def tier(self) -> dict[str, Any]: ...


class SubmissionView(Protocol):
    """What the report reads of the submission under review."""

    @property
    def id(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def planned_release_at(self) -> datetime: ...


def _family_scores(run: RunView) -> dict[str, dict[str, Any]]:
    return {
        s["task"]: s
        for s in run.results.get("scores", [])
        if s["task"] in FAMILY_TITLES and s["metric"] == "accuracy"
    }


def _chart(
    family: str,
    score: dict[str, Any],
    refs: list[tuple[str, Estimate]],
    blind: Estimate | None,
    floor: Estimate | None,
) -> str:
    names = ["this model"] + [name for name, _ in refs]
    values = [score["value"]] + [e.value for _, e in refs]
    lows = [score["value"] - score["ci_low"]] + [e.value - e.ci_low for _, e in refs]
    highs = [score["ci_high"] - score["value"]] + [e.ci_high - e.value for _, e in refs]
    fig, ax = plt.subplots(figsize=(5.5, 0.6 + 0.45 * len(names)))
    ax.barh(
        names, values, xerr=[lows, highs], capsize=4, color=["#b3362c"] + ["#7a8793"] * len(refs)
    )
    if blind is not None:
        ax.axvline(blind.value, color="#a66b00", linestyle="--", label="blind baseline")
    if floor is not None:
        ax.axvline(floor.value, color="#1d2329", linestyle=":", label="floor")
    if blind is not None or floor is not None:
        ax.legend(loc="lower right", fontsize="small")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"{FAMILY_TITLES[family]}: accuracy, 95% CI ({score['n']} clusters, epochs={score['epochs']})"
    )
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _estimate_doc(e: Estimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "value": round(e.value, 4),
        "ci_low": round(e.ci_low, 4),
        "ci_high": round(e.ci_high, 4),
        "n": e.n,
    }


def _estimate_cell(e: Mapping[str, Any] | None) -> str:
    if e is None:
        return DASH
    return f"{e['value']:.2f} [{e['ci_low']:.2f}, {e['ci_high']:.2f}]"


def _clusters(v: Any) -> str:
    return DASH if v is None else str(v)


def headline(tier: Mapping[str, Any]) -> str:
    """The decision's own statement of its evidence; a decision recorded without one (an older
    rules version) gets no tier in the headline at all."""
    text = tier.get("headline")
    if isinstance(text, str) and text:
        return text
    return (
        f"No statement of evidence was recorded with this decision (rules version "
        f"{tier.get('rules_version', 'unknown')}); see the rules below."
    )


def render(
    run: RunView,
    sub: SubmissionView,
    references: Mapping[str, list[tuple[str, Estimate]]],
    deltas: Mapping[str, Delta],
    vulns: list[dict[str, Any]],
    *,
    baselines: Mapping[str, Estimate] | None = None,
    floors: Mapping[str, Estimate] | None = None,
) -> tuple[dict[str, Any], str]:
    """The report as (JSON document, HTML). `references`: reference estimates by metric, for the
    charts; `baselines` / `floors`: blind-baseline and floor estimates by metric (`poc.accuracy`).
    The tier decision, the power analysis and the reference checks come from `run.tier`
    (`TierDecision.as_dict()`); the per-sample outcomes from `run.results["samples"]`."""
    baselines, floors = baselines or {}, floors or {}
    tier = run.tier or {}
    checks: list[dict[str, Any]] = list(tier.get("references", []))
    not_comparable = {c["name"] for c in checks if not c.get("comparable")}
    scores = [
        {
            **s,
            "blind": _estimate_doc(baselines.get(metric_key(s["task"], s["metric"]))),
            "floor": _estimate_doc(floors.get(metric_key(s["task"], s["metric"]))),
        }
        for s in run.results.get("scores", [])
    ]
    samples: list[dict[str, Any]] = list(run.results.get("samples", []))
    doc: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "generated_at": isoformat(utcnow()),
        "submission": {
            "id": sub.id,
            "model_name": sub.model_name,
            "model_version": sub.model_version,
            "deadline": isoformat(sub.deadline),
            "planned_release_at": isoformat(sub.planned_release_at),
        },
        "run": {"id": run.id, "tasks": run.tasks},
        "headline": headline(tier),
        "tier": tier,
        "scores": scores,
        "deltas": run.results.get("deltas", []),
        "references": sorted({name for refs in references.values() for name, _ in refs}),
        "reference_runs": checks,
        "power": tier.get("power", []),
        "comparability": run.config,
        "usage": run.results.get("usage", {}),
        "errors": run.results.get("errors", 0),
        "refusals": run.results.get("refusals", 0),
        "vulnerabilities": [
            {k: v for k, v in r.items() if k != "transcript_excerpt"} for r in vulns
        ],
        "samples": samples,
        "limitations": LIMITATIONS,
    }
    return doc, _html(doc, run, sub, references, not_comparable, baselines, floors)


def _rows(cells: Sequence[Sequence[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"


def _html(
    doc: dict[str, Any],
    run: RunView,
    sub: SubmissionView,
    references: Mapping[str, list[tuple[str, Estimate]]],
    not_comparable: set[str],
    baselines: Mapping[str, Estimate],
    floors: Mapping[str, Estimate],
) -> str:
    e = html.escape
    tier: Mapping[str, Any] = doc["tier"]

    def refs_for(family: str) -> list[tuple[str, Estimate]]:
        return [
            (f"{name} (not comparable)" if name in not_comparable else name, est)
            for name, est in references.get(f"{family}.accuracy", [])
        ]

    charts = "".join(
        f"<figure>{_chart(f, s, refs_for(f), baselines.get(f'{f}.accuracy'), floors.get(f'{f}.accuracy'))}</figure>"
        for f, s in _family_scores(run).items()
    )
    tier_rows = _rows(
        [
            [
                e(t["id"]),
                e(t["name"]),
                f"<span class='{e(t['outcome'])}'>{e(t['outcome'])}</span>",
                e(
                    ", ".join(f"{m}: {c} clusters" for m, c in (t.get("needed") or {}).items())
                    or (t.get("blocker") or "")
                ),
            ]
            for t in tier.get("tiers", [])
        ]
    )
    reasons = _rows(
        [
            [
                e(str(r.get("tier"))),
                e(str(r.get("rule"))),
                # An older decision's reasons carry a `verdict` instead.
                f"<span class='{e(str(r.get('outcome', r.get('verdict'))))}'>"
                f"{e(str(r.get('outcome', r.get('verdict'))))}</span>",
                e(str(r.get("detail"))),
            ]
            for r in tier.get("reasons", [])
        ]
    )
    score_rows = _rows(
        [
            [
                e(s["task"]),
                e(s["metric"]),
                f"{s['value']:.2f}",
                f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}]",
                str(s["n"]),
                str(s["epochs"]),
                _estimate_cell(s["blind"]),
                _estimate_cell(s["floor"]),
            ]
            for s in doc["scores"]
        ]
    )
    power_rows = _rows(
        [
            [
                e(p["tier"]),
                e(p["rule"]),
                _clusters(p["clusters"]),
                DASH if p["rate"] is None else f"{p['rate']:.2f}",
                e(p["outcome"]),
                _clusters(p["to_cross"]),
                _clusters(p["to_rule_out"]),
                _clusters(p["to_rule_out_at_zero"]),
            ]
            for p in doc["power"]
        ]
    )
    ref_rows = (
        _rows(
            [
                [
                    e(c["name"]),
                    e(str(c.get("run_id") or "")),
                    "yes" if c.get("comparable") else "<b>no</b>",
                    e("; ".join(c.get("differences", [])) or "nothing"),
                    "<code>" + e(json.dumps(c.get("config", {}), sort_keys=True)) + "</code>",
                ]
                for c in doc["reference_runs"]
            ]
        )
        or "<tr><td colspan='5'>No reference run was compared.</td></tr>"
    )
    task_rows = _rows(
        [
            [
                e(str(t.get("name"))),
                e(str(t.get("family"))),
                e(str(t.get("version"))),
                e(str(t.get("samples"))),
                f"<code>{e(str(t['dataset_sha256'])[:16])}…</code>",
            ]
            for t in run.config.get("tasks", [])
        ]
    )
    sample_rows = _rows(
        [
            [
                e(str(s.get("task", ""))),
                e(str(s.get("sample_id", ""))),
                e(str(s.get("cluster", ""))),
                e(str(s.get("epoch", ""))),
                e(str(s.get("score", ""))),
                e(str(s.get("error") or "")),
                "yes" if s.get("refused") else "",
                e(str(s.get("tokens", ""))),
            ]
            for s in doc["samples"]
        ]
    )
    vulns = doc["vulnerabilities"]
    vuln_rows = (
        "".join(
            f"<li><b>{e(str(v['target']))}</b>: {e(str(v['description'])[:400])}</li>"
            for v in vulns
        )
        or "<li>None reported during this run.</li>"
    )
    cfg = run.config
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Cyber capability review: {e(sub.model_name)} {e(sub.model_version)}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;color:#1d2329}}
table{{border-collapse:collapse;margin:1em 0;width:100%}}td,th{{border:1px solid #ccd;padding:4px 8px;text-align:left}}
.headline{{font-size:1.25em;font-weight:700}}.crossed{{color:#b3362c}}.not_ruled_out{{color:#a66b00}}
.ruled_out{{color:#2e6b3a}}figure{{margin:0}}
.note{{background:#f3f5f7;padding:.8em 1em;border-left:4px solid #7a8793}}</style></head><body>
<h1>Pre-release cyber capability review</h1>
<p class="note">TLP:AMBER+STRICT. For {e(sub.model_name)} {e(sub.model_version)} (submission {e(sub.id)}),
review deadline {e(str(isoformat(sub.deadline)))}. This report informs the lab; it does not approve, clear or block a release.</p>
<h2>Risk tier</h2><p class="headline" id="headline">{e(doc["headline"])}</p>
<p>Rules version {e(str(tier.get("rules_version")))}, at {e(str(tier.get("confidence", 0.95)))} confidence.
A rule is <span class="crossed">crossed</span> when the lower bound of its evidence reaches its threshold,
<span class="ruled_out">ruled out</span> when the upper bound stays below it, and otherwise
<span class="not_ruled_out">not ruled out</span>.</p>
<table>{_head("tier", "name", "outcome", "clusters needed to settle it at the observed rates")}{tier_rows}</table>
<table>{_head("tier", "rule", "outcome", "evidence")}{reasons}</table>
<h2>Capability profile</h2>{charts}
<table>{_head("task / family", "metric", "value", "95% CI", "clusters", "epochs", "blind baseline", "floor")}{score_rows}</table>
<p>Clusters are programs or templates (challenges when they have neither). Blind baseline: what
random inputs score; floor: what a model that does nothing scores. Samples that ended in an error
(excluded from scores): {doc["errors"]}. Refusals: {doc["refusals"]}.</p>
<h2>Power analysis</h2>
<p>Clusters each rule needs, if the rates stay as observed, to be crossed or ruled out; and to rule
out a model with no successes at all. A dash: more clusters alone cannot settle it that way.</p>
<table>{_head("tier", "rule", "clusters", "rate", "outcome", "to cross", "to rule out", "to rule out at 0 successes")}{power_rows}</table>
<h2>Reference models</h2>
<p>A reference counts only when comparable: the same tasks, versions and dataset digests, epochs,
limits and scaffold.</p>
<table>{_head("reference", "run", "comparable", "what differs", "configuration")}{ref_rows}</table>
<h2>Vulnerabilities reported by the model</h2><ul>{vuln_rows}</ul>
<h2>This run</h2>
<table>{_head("task", "family", "version", "samples", "dataset sha256")}{task_rows}</table>
<p>Seed {e(str(cfg.get("seed")))}; epochs {e(str(cfg.get("epochs")))}; limits {e(json.dumps(cfg.get("limits")))};
scaffold {e(str(cfg.get("scaffold")))}; sandbox {e(str(cfg.get("sandbox")))}; Inspect AI {e(str(cfg.get("inspect_ai")))}.</p>
<h2>Limitations</h2><ul>{"".join(f"<li>{e(x)}</li>" for x in LIMITATIONS)}</ul>
<h2>Appendix: per-sample outcomes</h2>
<table>{_head("task", "sample", "cluster", "epoch", "score", "error", "refused", "tokens")}{sample_rows}</table>
<script type="application/json" id="report-data">{e(to_json(doc))}</script>
</body></html>"""


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str)
