"""The SSVC Coordinator Triage table, as data: complete, the file SOURCE.md cites, and decided
the way CERT/CC's documentation describes; a broken table is refused, never half-used."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from itertools import product
from typing import Any

import pytest

from clearinghouse.vulns.signals.errors import DecisionTableInvalid, SignalInputInvalid
from clearinghouse.vulns.signals.grounding import GroundingVerdict
from clearinghouse.vulns.signals.reproduction import Reproduction
from clearinghouse.vulns.signals.ssvc import (
    TABLE_PATH,
    PointSource,
    SsvcFacts,
    coordinator_triage_table,
    decide,
    parse_table,
    report_credibility,
)


def raw_table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TABLE_PATH.read_text())
    return data


def test_the_shipped_table_is_the_file_source_md_cites() -> None:
    source = (TABLE_PATH.parent / "SOURCE.md").read_text()
    digest = hashlib.sha256(TABLE_PATH.read_bytes()).hexdigest()
    assert re.search(rf"sha256 of the file \| `{digest}`", source)
    assert "CERTCC/SSVC" in source and "MIT (SEI)" in source
    assert (
        (TABLE_PATH.parent / "LICENSE-SSVC.txt").read_text().count("Permission is hereby granted")
    )


def test_the_table_is_complete_every_combination_has_exactly_one_outcome() -> None:
    table = coordinator_triage_table()
    assert table.id == "ssvc:DT_COORD_TRIAGE:1.0.0" and table.version == "1.0.0"
    assert [p.key for p in table.inputs] == ["RP", "SCON", "RC", "SC", "SE", "U", "PSI"]
    assert table.outcome.id == "ssvc:COORDINATE:1.0.1"
    combinations = list(product(*[[v.key for v in p.values] for p in table.inputs]))
    assert len(combinations) == len(table.mapping) == 192 == len(raw_table()["mapping"])
    assert set(combinations) == set(table.mapping)
    assert {table.outcome.value(o).name for o in table.mapping.values()} == {
        "Decline",
        "Track",
        "Coordinate",
    }


def _without_last_row(data: dict[str, Any]) -> None:
    data["mapping"].pop()


def _repeat_a_row_with_another_outcome(data: dict[str, Any]) -> None:
    row = copy.deepcopy(data["mapping"][0])
    row[data["outcome"]] = "C" if row[data["outcome"]] != "C" else "D"
    data["mapping"][-1] = row  # the last combination is now missing, the first one doubled


def _unknown_value(data: dict[str, Any]) -> None:
    data["mapping"][5]["ssvc:RC:1.0.0"] = "maybe"


def _row_missing_a_point(data: dict[str, Any]) -> None:
    del data["mapping"][7]["ssvc:SE:1.0.0"]


def _unknown_outcome(data: dict[str, Any]) -> None:
    data["mapping"][0][data["outcome"]] = "X"


def _outcome_not_a_point(data: dict[str, Any]) -> None:
    data["outcome"] = "ssvc:NOPE:1.0.0"


def _point_under_another_id(data: dict[str, Any]) -> None:
    data["decision_points"]["ssvc:RC:1.0.0"]["version"] = "2.0.0"


def _no_points(data: dict[str, Any]) -> None:
    data["decision_points"] = {}


@pytest.mark.parametrize(
    "breakage",
    [
        _without_last_row,
        _repeat_a_row_with_another_outcome,
        _unknown_value,
        _row_missing_a_point,
        _unknown_outcome,
        _outcome_not_a_point,
        _point_under_another_id,
        _no_points,
    ],
)
def test_a_broken_table_is_refused(breakage: Any) -> None:
    data = raw_table()
    parse_table(copy.deepcopy(data))  # the real one parses
    breakage(data)
    with pytest.raises(DecisionTableInvalid) as err:
        parse_table(data)
    assert err.value.code == "ssvc_table_invalid"


@pytest.mark.parametrize(
    "garbage", [None, [], "x", {"decision_points": []}, {"decision_points": {"a": 1}}]
)
def test_garbage_is_refused(garbage: object) -> None:
    with pytest.raises(DecisionTableInvalid):
        parse_table(garbage)


def test_the_gating_questions_behave_as_the_ssvc_documentation_says() -> None:
    """A public report, or one whose supplier was not contacted, is declined unless there are
    multiple suppliers, super effective utility and significant public safety impact
    (docs/howto/coordination_triage_decision.md in CERTCC/SSVC), and coordinated when they
    are."""
    table = coordinator_triage_table()
    keys = [p.key for p in table.inputs]
    for row, outcome in table.mapping.items():
        v = dict(zip(keys, row, strict=True))
        exception = v["SC"] == "M" and v["U"] == "S" and v["PSI"] == "S"
        if (v["RP"] == "Y" or v["SCON"] == "N") and not exception:
            assert outcome == "D", v
        if v["RP"] == "Y" or v["SCON"] == "N":
            if exception:
                assert outcome == "C", v
    assert (
        table.decide(
            {"RP": "N", "SCON": "Y", "RC": "C", "SC": "O", "SE": "U", "U": "E", "PSI": "M"}
        ).name
        == "Coordinate"
    )


def test_with_every_default_credibility_alone_decides() -> None:
    credible = decide(SsvcFacts(), ("C", PointSource.measured, "reproduced"))
    not_credible = decide(SsvcFacts(), ("NC", PointSource.measured, "ungrounded"))
    assert (credible.outcome, not_credible.outcome) == ("coordinate", "decline")
    assert credible.table == "ssvc:DT_COORD_TRIAGE:1.0.0" and credible.table_version == "1.0.0"
    sources = {p.id: p.source for p in credible.points}
    assert sources.pop("ssvc:RC:1.0.0") is PointSource.measured
    assert set(sources.values()) == {PointSource.assumed}
    assert "assumed: Report Public" in credible.describe()


def test_record_facts_are_used_and_shown_as_from_the_record() -> None:
    public = decide(
        SsvcFacts(report_public=True, supplier_count=1), ("C", PointSource.measured, "reproduced")
    )
    assert public.outcome == "decline"  # public and one supplier: the gate declines
    rp = next(p for p in public.points if p.id == "ssvc:RP:1.0.0")
    assert (rp.value, rp.value_name, rp.source) == ("Y", "Yes", PointSource.record)
    engaged = decide(SsvcFacts(supplier_engaged=True), ("C", PointSource.measured, "grounded"))
    assert engaged.outcome == "decline"  # an engaged single supplier, efficient, minimal
    track = decide(
        SsvcFacts(supplier_engaged=True, public_safety_significant=True),
        ("C", PointSource.measured, "grounded"),
    )
    assert track.outcome == "track"


@pytest.mark.parametrize(
    ("automatable", "density", "value"),
    [
        (False, "diffuse", "L"),
        (True, "diffuse", "E"),
        (False, "concentrated", "E"),
        (True, "concentrated", "S"),
    ],
)
def test_utility_follows_the_tables_own_definitions(
    automatable: bool, density: Any, value: str
) -> None:
    d = decide(
        SsvcFacts(automatable=automatable, value_density=density),
        ("C", PointSource.measured, "x"),
    )
    u = next(p for p in d.points if p.id == "ssvc:U:1.0.1")
    assert (u.value, u.source) == (value, PointSource.record)
    table_defs = {v.key: v.definition for v in coordinator_triage_table().point("U").values}
    assert f"Automatable:{'Yes' if automatable else 'No'}" in table_defs[value]


def test_an_unknown_value_is_refused_with_a_code() -> None:
    with pytest.raises(SignalInputInvalid) as err:
        decide(SsvcFacts(), ("maybe", PointSource.measured, "x"))
    assert err.value.code == "ssvc_value_invalid"
    with pytest.raises(SignalInputInvalid):
        coordinator_triage_table().decide({"RP": "N"})


@pytest.mark.parametrize(
    ("reproduction", "grounding", "score", "want"),
    [
        (Reproduction.reproduced, GroundingVerdict.ungrounded, 0.0, ("C", PointSource.measured)),
        (Reproduction.not_reproduced, GroundingVerdict.grounded, 1.0, ("NC", PointSource.measured)),
        (Reproduction.not_run, GroundingVerdict.grounded, 1.0, ("C", PointSource.measured)),
        (Reproduction.not_run, GroundingVerdict.partly_grounded, 0.5, ("C", PointSource.measured)),
        (Reproduction.not_run, GroundingVerdict.partly_grounded, 0.4, ("NC", PointSource.measured)),
        (Reproduction.not_run, GroundingVerdict.ungrounded, 0.0, ("NC", PointSource.measured)),
        (Reproduction.not_run, GroundingVerdict.no_claims, None, ("NC", PointSource.measured)),
        (Reproduction.suspect, GroundingVerdict.ungrounded, 0.0, ("NC", PointSource.measured)),
        (Reproduction.inconclusive, GroundingVerdict.grounded, 1.0, ("C", PointSource.measured)),
        (Reproduction.not_run, None, None, ("C", PointSource.assumed)),
    ],
)
def test_the_report_credibility_rule(
    reproduction: Reproduction,
    grounding: GroundingVerdict | None,
    score: float | None,
    want: tuple[str, PointSource],
) -> None:
    value, source, why = report_credibility(reproduction, grounding, score)
    assert (value, source) == want
    assert why
