"""The review report: a self-contained HTML file (inline SVG charts, no network at render or
view time) and the same content as JSON. It states what was measured and how, with n, epochs,
CIs, task versions and dataset digests, and what the review does not claim."""

from __future__ import annotations

import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.evals.analysis.stats import Delta, Estimate
from clearinghouse.evals.models import EvalRun
from clearinghouse.reviews.models import Submission

REPORT_VERSION = 1
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
    "Tier decisions use 'cannot rule out' logic on the upper 95% confidence bound; a tier marked 'not ruled out' "
    "needs more measurement, not a conclusion.",
    "Compliance with attack requests (CyberSecEval MITRE) is judged by a model: the `grader` role when "
    "one is bound, otherwise the model under test judging itself, which is weak evidence.",
    "This review informs the lab before release. It does not approve, clear or block a release.",
]


def _family_scores(run: EvalRun) -> dict[str, dict[str, Any]]:
    return {
        s["task"]: s
        for s in run.results.get("scores", [])
        if s["task"] in FAMILY_TITLES and s["metric"] == "accuracy"
    }


def _chart(family: str, score: dict[str, Any], refs: list[tuple[str, Estimate]]) -> str:
    names = ["this model"] + [name for name, _ in refs]
    values = [score["value"]] + [e.value for _, e in refs]
    lows = [score["value"] - score["ci_low"]] + [e.value - e.ci_low for _, e in refs]
    highs = [score["ci_high"] - score["value"]] + [e.ci_high - e.value for _, e in refs]
    fig, ax = plt.subplots(figsize=(5.5, 0.6 + 0.45 * len(names)))
    ax.barh(
        names, values, xerr=[lows, highs], capsize=4, color=["#b3362c"] + ["#7a8793"] * len(refs)
    )
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"{FAMILY_TITLES[family]}: accuracy, 95% CI (n={score['n']}, epochs={score['epochs']})"
    )
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def render(
    run: EvalRun,
    sub: Submission,
    references: dict[str, list[tuple[str, Estimate]]],
    deltas: dict[str, Delta],
    vulns: list[dict[str, Any]],
) -> tuple[dict[str, Any], str]:
    families = _family_scores(run)
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
        "tier": run.tier,
        "scores": run.results.get("scores", []),
        "deltas": run.results.get("deltas", []),
        "references": sorted({name for refs in references.values() for name, _ in refs}),
        "comparability": run.config,
        "usage": run.results.get("usage", {}),
        "errors": run.results.get("errors", 0),
        "refusals": run.results.get("refusals", 0),
        "vulnerabilities": [
            {k: v for k, v in r.items() if k != "transcript_excerpt"} for r in vulns
        ],
        "limitations": LIMITATIONS,
    }
    e = html.escape
    charts = "".join(
        f"<figure>{_chart(f, s, references.get(f'{f}.accuracy', []))}</figure>"
        for f, s in families.items()
    )
    tier = run.tier or {}
    reasons = "".join(
        f"<tr><td>{e(r['tier'])}</td><td>{e(r['rule'])}</td><td class='{e(r['verdict'])}'>{e(r['verdict'])}</td>"
        f"<td>{e(r['detail'])}</td></tr>"
        for r in tier.get("reasons", [])
    )
    score_rows = "".join(
        f"<tr><td>{e(s['task'])}</td><td>{e(s['metric'])}</td><td>{s['value']:.2f}</td>"
        f"<td>[{s['ci_low']:.2f}, {s['ci_high']:.2f}]</td><td>{s['n']}</td><td>{s['epochs']}</td></tr>"
        for s in doc["scores"]
    )
    task_rows = "".join(
        f"<tr><td>{e(t['name'])}</td><td>{e(t['family'])}</td><td>{e(t['version'])}</td><td>{t['samples']}</td>"
        f"<td><code>{e(str(t['dataset_sha256'])[:16])}…</code></td></tr>"
        for t in run.config.get("tasks", [])
    )
    vuln_rows = (
        "".join(f"<li><b>{e(v['target'])}</b>: {e(v['description'][:400])}</li>" for v in vulns)
        or "<li>None reported during this run.</li>"
    )
    not_ruled = ", ".join(tier.get("not_ruled_out", [])) or "none"
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Cyber capability review: {e(sub.model_name)} {e(sub.model_version)}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;color:#1d2329}}
table{{border-collapse:collapse;margin:1em 0;width:100%}}td,th{{border:1px solid #ccd;padding:4px 8px;text-align:left}}
.tier{{font-size:1.6em;font-weight:700}}.crossed{{color:#b3362c}}.unknown{{color:#a66b00}}figure{{margin:0}}
.note{{background:#f3f5f7;padding:.8em 1em;border-left:4px solid #7a8793}}</style></head><body>
<h1>Pre-release cyber capability review</h1>
<p class="note">TLP:AMBER+STRICT. For {e(sub.model_name)} {e(sub.model_version)} (submission {e(sub.id)}),
review deadline {e(str(isoformat(sub.deadline)))}. This report informs the lab; it does not approve, clear or block a release.</p>
<h2>Risk tier</h2><p class="tier">{e(tier.get("tier", "?"))} ({e(tier.get("name", ""))})</p>
<p>Rules version {e(str(tier.get("rules_version")))}. Tiers not ruled out by what was measured: {e(not_ruled)}.</p>
<table><tr><th>tier</th><th>rule</th><th>verdict</th><th>evidence</th></tr>{reasons}</table>
<h2>Capability profile</h2>{charts}
<table><tr><th>task / family</th><th>metric</th><th>value</th><th>95% CI</th><th>n</th><th>epochs</th></tr>{score_rows}</table>
<p>Samples that ended in an error (excluded from scores): {doc["errors"]}. Refusals: {doc["refusals"]}.</p>
<h2>Vulnerabilities reported by the model</h2><ul>{vuln_rows}</ul>
<h2>Comparability</h2>
<table><tr><th>task</th><th>family</th><th>version</th><th>samples</th><th>dataset sha256</th></tr>{task_rows}</table>
<p>Seed {e(str(run.config.get("seed")))}; epochs {e(str(run.config.get("epochs")))}; limits {e(json.dumps(run.config.get("limits")))};
scaffold {e(str(run.config.get("scaffold")))}; sandbox {e(str(run.config.get("sandbox")))}; Inspect AI {e(str(run.config.get("inspect_ai")))};
reference models: {e(", ".join(doc["references"]) or "none measured")}.</p>
<h2>Limitations</h2><ul>{"".join(f"<li>{e(x)}</li>" for x in LIMITATIONS)}</ul>
<script type="application/json" id="report-data">{e(to_json(doc))}</script>
</body></html>"""
    return doc, body


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str)
