"""CISA's SSVC tree as data: the shipped table is the one SOURCE.md cites, has no gap and no
duplicate, and every combination of inputs is decided as CERT/CC's own CSV of the table says
(the CSV is read here independently: it is the oracle). The asset's fields combine into Mission
and Well-Being as SSVC's definitions say, and every value the record lacks is a default that the
decision names as such."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.inventory import ssvc
from clearinghouse.inventory.ssvc import (
    TABLE_PATH,
    Input,
    SsvcFacts,
    SsvcInputInvalid,
    SsvcInputs,
    assess,
    decide,
    load_table,
    resolve,
)
from clearinghouse.vulns.signals.errors import DecisionTableInvalid

CSV_PATH = TABLE_PATH.with_suffix(".csv")
# The CSV's vocabulary -> ours.
CSV_VALUES = {
    "none": "none",
    "public poc": "public_poc",
    "active": "active",
    "track": "Track",
    "track*": "Track*",
    "attend": "Attend",
    "act": "Act",
}


def csv_rows() -> list[dict[str, str]]:
    with CSV_PATH.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def csv_oracle() -> dict[tuple[str, str, str, str], str]:
    out = {}
    for row in csv_rows():
        key = (
            CSV_VALUES[row["Exploitation v1.1.0"]],
            row["Automatable v2.0.0"],
            row["Technical Impact v1.0.0"],
            row["Mission and Well-Being Impact v1.0.0"],
        )
        out[key] = CSV_VALUES[row["CISA Levels v1.1.0 (cisa)"]]
    return out


def given(e: str, a: str, ti: str, mwi: str) -> SsvcInputs:
    return SsvcInputs(
        Input(e, "record", "test"),
        Input(a, "record", "test"),
        Input(ti, "record", "test"),
        Input(mwi, "asset", "test"),
    )


def test_the_shipped_files_are_the_ones_source_md_cites() -> None:
    source = (TABLE_PATH.parent / "SOURCE.md").read_text()
    for path in (TABLE_PATH, CSV_PATH):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert re.search(rf"{path.suffix[1:].upper()} sha256 \| `{digest}`", source), path.name
    assert "CERTCC/SSVC" in source and "MIT (SEI)" in source and "2.0.3" in source
    assert "Permission is hereby granted" in (TABLE_PATH.parent / "LICENSE-SSVC.txt").read_text()


def test_the_csv_table_has_no_gap_and_no_duplicate() -> None:
    rows = csv_rows()
    keys = [
        (
            r["Exploitation v1.1.0"],
            r["Automatable v2.0.0"],
            r["Technical Impact v1.0.0"],
            r["Mission and Well-Being Impact v1.0.0"],
        )
        for r in rows
    ]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert set(keys) == set(
        product(
            ["none", "public poc", "active"],
            ["no", "yes"],
            ["partial", "total"],
            ["low", "medium", "high"],
        )
    )
    assert len(rows) == 36
    assert {r["CISA Levels v1.1.0 (cisa)"] for r in rows} == {"track", "track*", "attend", "act"}


def test_every_combination_is_decided_as_the_published_csv_says() -> None:
    oracle = csv_oracle()
    assert len(oracle) == 36
    seen = Counter()
    for e, a, ti, mwi in product(
        ["none", "public_poc", "active"],
        ["no", "yes"],
        ["partial", "total"],
        ["low", "medium", "high"],
    ):
        decision = decide(given(e, a, ti, mwi))
        assert decision.outcome == oracle[(e, a, ti, mwi)], (e, a, ti, mwi)
        assert decision.table == "cisa:DT_CO:2.0.3" and decision.table_version == "2.0.3"
        assert decision.inputs.exploitation.value == e  # the decision carries its inputs
        seen[decision.outcome] += 1
    assert set(seen) == {"Track", "Track*", "Attend", "Act"}


def test_the_json_table_agrees_with_the_csv_row_for_row() -> None:
    table = ssvc.cisa_table()
    names = {v.key: v.name for v in table.outcome.values}
    ours = {k: names[v] for k, v in table.mapping.items()}
    keyed = {
        (
            ssvc._KEYS["E"][e],
            ssvc._KEYS["A"][a],
            ssvc._KEYS["TI"][ti],
            ssvc._KEYS["MWI"][mwi],
        ): outcome
        for (e, a, ti, mwi), outcome in csv_oracle().items()
    }
    assert ours == keyed


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TABLE_PATH.read_text())
    return data


@pytest.mark.parametrize("damage", ["drop_row", "duplicate_row", "unknown_value", "no_outcome"])
def test_a_table_with_a_gap_a_duplicate_or_an_unknown_value_is_refused(
    tmp_path: Path, damage: str
) -> None:
    data = _raw()
    if damage == "drop_row":
        del data["mapping"][17]
    elif damage == "duplicate_row":
        data["mapping"][17] = dict(data["mapping"][16])
    elif damage == "unknown_value":
        data["mapping"][3]["ssvc:MWI:1.0.0"] = "X"
    else:
        data["outcome"] = "cisa:NOPE:1.0.0"
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DecisionTableInvalid):
        load_table(path)


def test_a_table_of_another_shape_is_refused(tmp_path: Path) -> None:
    coordinator_triage = (
        Path(ssvc.__file__).parent.parent / "vulns/signals/data/ssvc_coordinator_triage_1_0_0.json"
    )
    with pytest.raises(DecisionTableInvalid, match="shape"):
        load_table(coordinator_triage)


# Mission and Well-Being, independently from SSVC's MWI 1.0.0 value definitions and CERT/CC's
# CISA calculator: High = MP Essential OR PWI Irreversible; Medium = {MP Support and PWI
# Minimal|Material} or {MP Minimal|Support and PWI Material}; Low = MP Minimal and PWI Minimal.
PREVALENCE = {
    "degraded": "minimal",
    "crippled": "support",
    "mef_failure": "essential",
    "mission_failure": "essential",
}


def mwi_oracle(mp: str, pwi: str) -> str:
    if mp == "essential" or pwi == "irreversible":
        return "high"
    if (mp == "support" and pwi in ("minimal", "material")) or (
        mp in ("minimal", "support") and pwi == "material"
    ):
        return "medium"
    assert mp == "minimal" and pwi == "minimal"
    return "low"


def test_every_asset_context_and_exploitation_source_decides_as_the_oracle() -> None:
    """Every combination of the asset's three fields, KEV, case evidence and the record's
    automatable and technical impact, end to end through resolve() and decide()."""
    oracle = csv_oracle()
    n = 0
    for mission, wellbeing, exposure, kev, case, auto, ti in product(
        list(PREVALENCE),
        ["minimal", "material", "irreversible"],
        ["small", "controlled", "open"],
        [False, True],
        [None, "none", "public_poc", "active"],
        [None, True, False],
        [None, "partial", "total"],
    ):
        facts = SsvcFacts(
            kev=kev,
            case_exploitation=case,
            automatable=auto,
            technical_impact=ti,
            mission_impact=mission,
            wellbeing_impact=wellbeing,
            exposure=exposure,
        )
        d = assess(facts)
        e = "active" if kev else (case or "none")
        a = {True: "yes", False: "no", None: "no" if exposure == "small" else "yes"}[auto]
        t = ti or "total"
        m = mwi_oracle(PREVALENCE[mission], wellbeing)
        assert d.outcome == oracle[(e, a, t, m)], facts
        stored = d.as_json()
        assert stored["exploitation"]["value"] == e
        assert stored["exploitation"]["source"] == ("kev" if kev else "case" if case else "default")
        assert stored["automatable"]["source"] == ("default" if auto is None else "record")
        assert stored["technical_impact"]["source"] == ("default" if ti is None else "record")
        assert stored["mission_wellbeing"] == {
            "value": m,
            "source": "asset",
            "why": stored["mission_wellbeing"]["why"],
        }
        assert stored["exposure"] == {"value": exposure, "source": "asset", "why": "the asset"}
        n += 1
    assert n == 4 * 3 * 3 * 2 * 4 * 3 * 3


def test_nothing_known_gives_conservative_defaults_each_marked_default() -> None:
    d = assess(SsvcFacts())
    stored = d.as_json()
    assert {k: (v["value"], v["source"]) for k, v in stored.items() if isinstance(v, dict)} == {
        "exploitation": ("none", "default"),
        "automatable": ("yes", "default"),
        "technical_impact": ("total", "default"),
        "mission_wellbeing": ("high", "default"),
        "mission_impact": ("mef_failure", "default"),
        "wellbeing_impact": ("material", "default"),
        "exposure": ("open", "default"),
    }
    # none / yes / total / high is Attend in the table: an unknown asset is not merely tracked.
    assert d.outcome == "Attend"
    assert stored["table"] == "cisa:DT_CO:2.0.3"


def test_kev_outranks_weaker_evidence_and_case_evidence_outranks_the_record() -> None:
    base = {"mission_impact": "mission_failure", "wellbeing_impact": "minimal"}
    kev = resolve(SsvcFacts(kev=True, case_exploitation="none", exploitation="none", **base))
    assert (kev.exploitation.value, kev.exploitation.source) == ("active", "kev")
    case = resolve(SsvcFacts(case_exploitation="active", exploitation="public_poc", **base))
    assert (case.exploitation.value, case.exploitation.source) == ("active", "case")
    record = resolve(SsvcFacts(case_exploitation="none", exploitation="public_poc", **base))
    assert (record.exploitation.value, record.exploitation.source) == ("public_poc", "record")


@pytest.mark.parametrize(
    ("vector", "automatable", "technical_impact"),
    [
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:N", "no", "total"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N/AU:Y", "yes", "partial"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", None, "total"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:H", None, "partial"),
        ("not a vector C:H/I:H", None, None),
    ],
)
def test_cvss_gives_automatable_and_technical_impact_marked_cvss(
    vector: str, automatable: str | None, technical_impact: str | None
) -> None:
    inputs = resolve(SsvcFacts(cvss_vector=vector, exposure="controlled"))
    if automatable is None:
        assert (inputs.automatable.value, inputs.automatable.source) == ("yes", "default")
    else:
        assert (inputs.automatable.value, inputs.automatable.source) == (automatable, "cvss")
    if technical_impact is None:
        assert inputs.technical_impact.source == "default"
    else:
        assert (inputs.technical_impact.value, inputs.technical_impact.source) == (
            technical_impact,
            "cvss",
        )


@pytest.mark.parametrize(
    "facts",
    [
        {"exploitation": "weaponised"},
        {"case_exploitation": "ACTIVE"},
        {"technical_impact": "full"},
        {"mission_impact": "catastrophic"},
        {"wellbeing_impact": "none"},
        {"exposure": "internet"},
    ],
)
def test_a_value_outside_the_vocabulary_is_a_clear_error(facts: dict[str, str]) -> None:
    with pytest.raises(SsvcInputInvalid) as err:
        resolve(SsvcFacts(**facts))  # type: ignore[arg-type]
    assert err.value.code == "ssvc_value_invalid"
    assert next(iter(facts)) in err.value.detail


def test_a_forged_input_value_reaching_decide_is_refused() -> None:
    with pytest.raises(SsvcInputInvalid):
        decide(given("active", "maybe", "total", "high"))


def test_rank_is_the_exposures_ssvc_rank_most_urgent_first() -> None:
    assert [ssvc.rank(o) for o in ("Act", "Attend", "Track*", "Track", None, "Decline")] == [
        0,
        1,
        2,
        3,
        9,
        9,
    ]
    assert ssvc.UNDECIDED_RANK == 9
