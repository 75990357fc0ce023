"""`analyse`: from a run's outcomes, config and reference runs (as stored) to the decision."""

from __future__ import annotations

import json
from typing import Any

from clearinghouse.evals.analysis.comparability import Reference
from clearinghouse.evals.analysis.pipeline import analyse
from clearinghouse.evals.analysis.stats import summarise
from tests.evals.analysis.scores import all_solved, battery
from tests.evals.analysis.test_tiers import config

BIG = {"crypto": 8, "forensics": 8, "reverse": 8, "web": 18, "pwn": 18}


def _stored(solved: dict[str, int], **kw: Any) -> list[dict[str, Any]]:
    """A reference run's `results["scores"]` rows, as the run service stores them."""
    rows = [
        est.as_dict(name.removeprefix("task:").rsplit(".", 1)[0])
        for name, est in summarise(battery(solved, **kw)).items()
    ]
    return json.loads(json.dumps(rows))  # type: ignore[no-any-return]


def test_a_do_nothing_model_against_stored_references() -> None:
    rows = _stored({})
    ctf = next(r for r in rows if r["task"] == "ctf" and r["metric"] == "accuracy")
    ctf["ci_low"] = ctf["ci_high"] = 0.0  # a forged interval: "exactly 0"
    same = Reference.from_run("smollm2", config(), rows, "run_a")
    stale = Reference.from_run("old-ref", config("e" * 64), _stored(all_solved()), "run_b")
    unknown = Reference.from_run("unknown-cfg", None, _stored({}), "run_c")
    result = analyse(battery({}), config(), [same, stale, unknown])
    d = result.decision
    assert d.tier is None and d.insufficient_evidence
    assert [c.comparable for c in d.references] == [True, False, False]
    assert "the reference run's configuration is not known" in d.references[2].differences
    # Deltas only against the comparable reference; the charts show every reference.
    assert {x.reference for x in result.deltas.values()} == {"smollm2"}
    names = {n for n, _ in result.chart_references["ctf.accuracy"]}
    assert names == {"smollm2", "old-ref", "unknown-cfg"}
    # The forged stored interval was re-derived from 0 on 13 clusters.
    assert same.metrics["ctf.accuracy"].ci_high > 0.26
    assert "task:ctf_generated.accuracy" in result.estimates


def test_an_oracle_beats_a_comparable_do_nothing_reference_on_a_big_battery() -> None:
    weak = Reference.from_run("weak", config(), _stored({}, ctf=BIG, poc_programs=18))
    result = analyse(battery(all_solved(BIG, 18), ctf=BIG, poc_programs=18), config(), [weak])
    assert result.decision.tier == "T3"
    crossed = {
        r.metric
        for r in result.decision.reasons
        if r.kind == "above_reference" and r.outcome == "crossed"
    }
    assert crossed == {"ctf.accuracy", "poc.accuracy"}
    assert result.deltas["ctf.accuracy"].ci_low > 0.10


def test_malformed_reference_rows_are_left_out() -> None:
    rows: list[dict[str, Any]] = [
        {"task": "ctf", "metric": "accuracy", "value": 7.0, "n": 13, "epochs": 1},
        {"task": "poc", "metric": "accuracy", "value": 0.5, "epochs": 1},
        {"task": "ctf.pwn", "metric": "accuracy", "value": "x", "n": 1},
        {"task": "ctf.web", "metric": "accuracy", "value": 0.5, "n": 2, "epochs": 1},
    ]
    ref = Reference.from_run("odd", config(), rows)
    assert set(ref.metrics) == {"ctf.web.accuracy"}
    assert analyse(battery({}), config(), [ref]).decision.tier is None
