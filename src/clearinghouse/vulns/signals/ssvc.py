"""The SSVC **Coordinator Triage** decision (Decline, Track, Coordinate), from CERT/CC's
published decision table, used as data.

The table is `data/ssvc_coordinator_triage_1_0_0.json`, `ssvc:DT_COORD_TRIAGE:1.0.0`, copied
unmodified from CERTCC/SSVC (`data/SOURCE.md`: commit, hash, licence). It is loaded and checked
once: every decision point listed, every row's values known, and every combination of the seven
input points' values (2 x 2 x 2 x 2 x 2 x 3 x 2 = 192) with exactly one outcome. A table that
fails is a `DecisionTableInvalid`: nothing is decided from it.

Each input decision point gets its value from one of three sources, and the output says which:

| point | from | default when not known (`assumed`) |
|---|---|---|
| Report Credibility (RC) | `measured`: `report_credibility()` below, from reproduction and grounding | Credible, only when neither was measured (no validation and no source tree) |
| Report Public (RP) | `record`: the caller's `report_public` (the record is public, or a public advisory or write-up exists) | No: reports reach the clearinghouse under embargo |
| Supplier Contacted (SCON) | `record`: `supplier_contacted` | Yes: filing through the clearinghouse, whose coordinators notify the supplier, is the contact |
| Supplier Cardinality (SC) | `record`: `supplier_count` (the record's distinct affected packages' suppliers) | One |
| Supplier Engagement (SE) | `record`: `supplier_engaged` (True: Active, False: Unresponsive) | Unresponsive: no engagement is recorded for a new report |
| Utility (U) | `record`: `utility`, or derived from `automatable` and `value_density` by the table's own definitions | Efficient, the middle value |
| Public Safety Impact (PSI) | `record`: `public_safety_significant` | Minimal |

With every default, the table's outcome turns on Report Credibility alone: Credible gives
Coordinate, Not Credible gives Decline (tested). Defaults are policy: a deployment that knows a
point passes it, and every assumed value is shown as `assumed` in the decision's evidence.

**Report Credibility rule** (`report_credibility()`), first match wins:
1. reproduced (believably: `reproduction.Reproduction.reproduced`) -> Credible;
2. the PoC ran and did not reproduce -> Not Credible;
3. grounding `grounded` -> Credible;
4. grounding `partly_grounded` with at least half the claims' weight found -> Credible, below
   half -> Not Credible;
5. grounding `ungrounded` (names code that does not exist) -> Not Credible;
6. grounding `no_claims` (names nothing that can be checked) -> Not Credible;
7. nothing measured (no validation and no source tree) -> Credible, `assumed`.
A `suspect` reproduction (output that survives a known fix, frames not in the source) and an
inconclusive one (build failed, harness error) count for nothing: the grounding rules decide.
The reporter's track record is not an input (SSVC's Report Credibility is about the report);
the queue uses it to break ties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import product
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clearinghouse.vulns.signals.errors import DecisionTableInvalid, SignalInputInvalid
from clearinghouse.vulns.signals.grounding import GroundingVerdict
from clearinghouse.vulns.signals.reproduction import Reproduction

TABLE_PATH = Path(__file__).parent / "data" / "ssvc_coordinator_triage_1_0_0.json"
CREDIBLE_SHARE = 0.5  # a partly grounded report is credible from this share of claims found
Outcome = Literal["decline", "track", "coordinate"]


@dataclass(frozen=True)
class PointValue:
    key: str
    name: str
    definition: str


@dataclass(frozen=True)
class DecisionPoint:
    id: str  # namespace:key:version, e.g. "ssvc:RC:1.0.0"
    key: str
    version: str
    name: str
    values: tuple[PointValue, ...]

    def value(self, key: str) -> PointValue:
        for v in self.values:
            if v.key == key:
                return v
        raise SignalInputInvalid(
            f"{self.name} ({self.id}) has no value {key!r}; it has "
            + ", ".join(v.key for v in self.values),
            code="ssvc_value_invalid",
        )


@dataclass(frozen=True)
class DecisionTable:
    id: str  # e.g. "ssvc:DT_COORD_TRIAGE:1.0.0"
    name: str
    version: str
    inputs: tuple[DecisionPoint, ...]
    outcome: DecisionPoint
    mapping: dict[tuple[str, ...], str]

    def point(self, key: str) -> DecisionPoint:
        for p in self.inputs:
            if p.key == key:
                return p
        raise SignalInputInvalid(
            f"the table has no decision point {key!r}", code="ssvc_value_invalid"
        )

    def decide(self, values: dict[str, str]) -> PointValue:
        """The outcome for one value per input decision point (by the points' short keys)."""
        row = tuple(p.value(values[p.key]).key for p in self.inputs if p.key in values)
        if len(row) != len(self.inputs):
            missing = [p.key for p in self.inputs if p.key not in values]
            raise SignalInputInvalid(
                f"a value is needed for {', '.join(missing)}", code="ssvc_value_invalid"
            )
        return self.outcome.value(self.mapping[row])


def _text(obj: dict[str, object], field: str, where: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise DecisionTableInvalid(f"{where}: `{field}` is not a non-empty string")
    return value


def _point(point_id: str, raw: object) -> DecisionPoint:
    if not isinstance(raw, dict):
        raise DecisionTableInvalid(f"decision point {point_id} is not an object")
    values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise DecisionTableInvalid(f"decision point {point_id} has no values")
    parsed = []
    for v in values:
        if not isinstance(v, dict):
            raise DecisionTableInvalid(f"decision point {point_id}: a value is not an object")
        definition = v.get("definition", v.get("description", ""))
        parsed.append(
            PointValue(_text(v, "key", point_id), _text(v, "name", point_id), str(definition or ""))
        )
    if len({v.key for v in parsed}) != len(parsed):
        raise DecisionTableInvalid(f"decision point {point_id} repeats a value key")
    point = DecisionPoint(
        point_id,
        _text(raw, "key", point_id),
        _text(raw, "version", point_id),
        _text(raw, "name", point_id),
        tuple(parsed),
    )
    if point_id != f"{raw.get('namespace')}:{point.key}:{point.version}":
        raise DecisionTableInvalid(f"decision point {point_id} is listed under another id")
    return point


def parse_table(data: object) -> DecisionTable:
    """Check and load an SSVC decision table (schema 2.0.0): every combination of the input
    points' values must have exactly one row, and every row only known values."""
    if not isinstance(data, dict):
        raise DecisionTableInvalid("the decision table is not a JSON object")
    raw_points = data.get("decision_points")
    if not isinstance(raw_points, dict) or not raw_points:
        raise DecisionTableInvalid("the decision table lists no decision points")
    points = {pid: _point(pid, raw) for pid, raw in raw_points.items()}
    outcome_id = data.get("outcome")
    if not isinstance(outcome_id, str) or outcome_id not in points:
        raise DecisionTableInvalid("the table's outcome is not one of its decision points")
    inputs = tuple(p for pid, p in points.items() if pid != outcome_id)
    rows = data.get("mapping")
    if not isinstance(rows, list):
        raise DecisionTableInvalid("the decision table has no mapping")
    mapping: dict[tuple[str, ...], str] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(points):
            raise DecisionTableInvalid(
                f"row {i} does not give exactly one value per decision point"
            )
        key = []
        for p in inputs:
            value = row[p.id]
            if value not in {v.key for v in p.values}:
                raise DecisionTableInvalid(f"row {i}: {p.id} has no value {value!r}")
            key.append(value)
        outcome = row[outcome_id]
        if outcome not in {v.key for v in points[outcome_id].values}:
            raise DecisionTableInvalid(f"row {i}: the outcome has no value {outcome!r}")
        if tuple(key) in mapping:
            raise DecisionTableInvalid(
                f"row {i} repeats the combination {dict(zip([p.key for p in inputs], key, strict=True))}"
            )
        mapping[tuple(key)] = outcome
    for combination in product(*[[v.key for v in p.values] for p in inputs]):
        if combination not in mapping:
            shown = dict(zip([p.key for p in inputs], combination, strict=True))
            raise DecisionTableInvalid(f"no outcome for the combination {shown}")
    return DecisionTable(
        id=f"{_text(data, 'namespace', 'table')}:{_text(data, 'key', 'table')}:"
        f"{_text(data, 'version', 'table')}",
        name=_text(data, "name", "table"),
        version=_text(data, "version", "table"),
        inputs=inputs,
        outcome=points[outcome_id],
        mapping=mapping,
    )


@cache
def coordinator_triage_table() -> DecisionTable:
    """The shipped Coordinator Triage table, loaded and checked once per process."""
    try:
        data = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DecisionTableInvalid(f"{TABLE_PATH.name} cannot be read: {exc}") from None
    return parse_table(data)


class PointSource(StrEnum):
    measured = "measured"  # from the triage signals
    record = "record"  # from the record or report, as the caller passed it
    assumed = "assumed"  # the documented default: not known


class SsvcFacts(BaseModel):
    """What the record and the report say about the decision points other than Report
    Credibility; None is "not known" and takes the documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_public: bool | None = None
    supplier_contacted: bool | None = None
    supplier_count: int | None = Field(default=None, ge=1, le=1_000_000)
    supplier_engaged: bool | None = None
    utility: Literal["laborious", "efficient", "super_effective"] | None = None
    automatable: bool | None = None
    value_density: Literal["diffuse", "concentrated"] | None = None
    public_safety_significant: bool | None = None


class SsvcPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # e.g. "ssvc:RC:1.0.0"
    name: str
    value: str  # the value's key, e.g. "C"
    value_name: str  # e.g. "Credible"
    source: PointSource
    evidence: str


class SsvcDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str  # "ssvc:DT_COORD_TRIAGE:1.0.0"
    table_name: str
    table_version: str
    outcome: Outcome
    outcome_id: str  # "ssvc:COORDINATE:1.0.1"
    points: list[SsvcPoint]

    def describe(self) -> str:
        assumed = [p.name for p in self.points if p.source is PointSource.assumed]
        text = f"SSVC {self.table_name} {self.table_version}: {self.outcome.capitalize()}"
        return text + (f" (assumed: {', '.join(assumed)})" if assumed else "")


_DEFAULTS: dict[str, tuple[str, str]] = {
    "RP": ("N", "not known; reports reach the clearinghouse under embargo"),
    "SCON": ("Y", "not known; filing with the clearinghouse, which notifies the supplier"),
    "SC": ("O", "not known; one supplier"),
    "SE": ("U", "not known; no supplier engagement is recorded yet"),
    "U": ("E", "not known; the middle value"),
    "PSI": ("M", "not known; minimal"),
}
_UTILITY = {"laborious": "L", "efficient": "E", "super_effective": "S"}
_OUTCOMES: dict[str, Outcome] = {"decline": "decline", "track": "track", "coordinate": "coordinate"}


def report_credibility(
    reproduction: Reproduction,
    grounding: GroundingVerdict | None,
    grounding_score: float | None,
) -> tuple[str, PointSource, str]:
    """Report Credibility (C or NC), its source and why: the rule in the module docstring."""
    if reproduction is Reproduction.reproduced:
        return "C", PointSource.measured, "reproduced on the named version"
    if reproduction is Reproduction.not_reproduced:
        return "NC", PointSource.measured, "the PoC ran and did not reproduce it"
    why = {
        Reproduction.suspect: "the reproduction is suspect; ",
        Reproduction.inconclusive: "the validation was inconclusive; ",
    }.get(reproduction, "")
    if grounding is GroundingVerdict.grounded:
        return "C", PointSource.measured, why + "everything the report names is in the source"
    if grounding is GroundingVerdict.partly_grounded:
        score = grounding_score or 0.0
        value = "C" if score >= CREDIBLE_SHARE else "NC"
        return value, PointSource.measured, why + f"{score:.0%} of what it names is in the source"
    if grounding is GroundingVerdict.ungrounded:
        return "NC", PointSource.measured, why + "none of the code it names is in the source"
    if grounding is GroundingVerdict.no_claims:
        return "NC", PointSource.measured, why + "it names no code that can be checked"
    return "C", PointSource.assumed, why + "nothing measured (no validation, no source tree)"


def _utility(facts: SsvcFacts) -> tuple[str, PointSource, str]:
    if facts.utility is not None:
        return _UTILITY[facts.utility], PointSource.record, f"utility {facts.utility}"
    if facts.automatable is not None and facts.value_density is not None:
        # The table's own definitions of Utility 1.0.1's values.
        auto, dense = facts.automatable, facts.value_density == "concentrated"
        value = "S" if auto and dense else "L" if not auto and not dense else "E"
        return (
            value,
            PointSource.record,
            f"automatable {'yes' if auto else 'no'}, value density {facts.value_density}",
        )
    value, why = _DEFAULTS["U"]
    return value, PointSource.assumed, why


def decide(
    facts: SsvcFacts,
    credibility: tuple[str, PointSource, str],
    table: DecisionTable | None = None,
) -> SsvcDecision:
    """The Coordinator Triage outcome, with every decision point's value and its source."""
    table = table or coordinator_triage_table()
    chosen: dict[str, tuple[str, PointSource, str]] = {"RC": credibility}

    def known(key: str, value: str | None, evidence: str) -> None:
        if value is None:
            default, why = _DEFAULTS[key]
            chosen[key] = (default, PointSource.assumed, why)
        else:
            chosen[key] = (value, PointSource.record, evidence)

    def yes_no(flag: bool | None, yes: str, no: str) -> str | None:
        return None if flag is None else yes if flag else no

    known("RP", yes_no(facts.report_public, "Y", "N"), f"report public: {facts.report_public}")
    known(
        "SCON",
        yes_no(facts.supplier_contacted, "Y", "N"),
        f"supplier contacted: {facts.supplier_contacted}",
    )
    known(
        "SC",
        None if facts.supplier_count is None else "O" if facts.supplier_count == 1 else "M",
        f"{facts.supplier_count} supplier(s)",
    )
    known(
        "SE",
        yes_no(facts.supplier_engaged, "A", "U"),
        f"supplier engaged: {facts.supplier_engaged}",
    )
    chosen["U"] = _utility(facts)
    known(
        "PSI",
        yes_no(facts.public_safety_significant, "S", "M"),
        f"public safety impact significant: {facts.public_safety_significant}",
    )
    outcome = table.decide({k: v[0] for k, v in chosen.items()})
    points = []
    for p in table.inputs:
        value, source, evidence = chosen[p.key]
        points.append(
            SsvcPoint(
                id=p.id,
                name=p.name,
                value=value,
                value_name=p.value(value).name,
                source=source,
                evidence=evidence,
            )
        )
    name = _OUTCOMES.get(outcome.name.lower())
    if name is None:
        raise DecisionTableInvalid(
            f"the outcome {outcome.name!r} is not Decline, Track or Coordinate"
        )
    return SsvcDecision(
        table=table.id,
        table_name=table.name,
        table_version=table.version,
        outcome=name,
        outcome_id=table.outcome.id,
        points=points,
    )
