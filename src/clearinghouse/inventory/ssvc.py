"""Prioritisation of an exposure by CISA's SSVC decision tree (Track, Track*, Attend, Act).

The tree is CERT/CC's published table `cisa:DT_CO:2.0.3` ("CISA Coordinator"), shipped
unmodified as data (`data/ssvc_cisa_coordinator_2_0_3.json`; the repository's CSV rendering of
the same table sits beside it and the tests use it as the oracle; `data/SOURCE.md`: commit,
hashes, licence). It is loaded and checked by the one SSVC table loader
(`vulns.signals.ssvc.parse_table`): every combination of its four decision points' values
(3 x 2 x 2 x 3 = 36) has exactly one row, or nothing is decided.

Its four inputs, and where each comes from (`Input.source` says which, in every decision):

| point | value from (source) | when nothing says (source `default`) |
|---|---|---|
| Exploitation (`none`, `public_poc`, `active`) | `kev`: the record's CVE is in CISA's KEV catalog -> active; `case`: evidence recorded in a coordination case; `record`: what the record says | `none`: no KEV listing, no case evidence, nothing recorded; SSVC's None is exactly "no evidence of active exploitation and no public PoC" |
| Automatable (`yes`, `no`) | `record`; `cvss`: a CVSS 4.0 vector's supplemental `AU:Y`/`AU:N` (SSVC and CVSS define Automatable as interchangeable) | `yes`; but `no` when the asset's exposure is `small` (SSVC's Automatable page: when the vulnerable systems are not openly connected, reconnaissance cannot be automated) |
| Technical Impact (`partial`, `total`) | `record`; `cvss`: `total` when the vector's confidentiality or integrity impact is High (SSVC's Total: "total control over the behavior of the software, or total disclosure of all information"), else `partial` | `total` |
| Mission and Well-Being Impact (`low`, `medium`, `high`) | `asset`: combined from the asset's mission impact and well-being impact, below | from the defaults of its two parts |

**Mission and Well-Being Impact** (SSVC `MWI` 1.0.0) combines Mission Prevalence and Public
Well-Being Impact. SSVC defines both for a coordinator judging a whole population of deployers;
an operator's asset is one deployment, so the asset's own fields stand for them:

- Mission Prevalence from the asset's mission impact (SSVC Mission Impact 2.0.0):
  `degraded` (non-essential functions degraded) -> Minimal; `crippled` (MEF Support Crippled:
  activities that directly support essential functions are crippled) -> Support; `mef_failure`
  and `mission_failure` (an essential function fails) -> Essential.
  Not known -> `mef_failure` (default): an asset registered in a critical-infrastructure
  inventory is presumed to carry an essential function until its operator says otherwise.
- Public Well-Being Impact from the asset's well-being impact, value for value (`minimal`,
  `material`, `irreversible`). Not known -> `material` (default), the middle value.
- The combination, as CERT/CC's CISA calculator (`docs/ssvc-calc/CISA-Coordinator.json`) and
  the MWI value definitions give it: High when Mission Prevalence is Essential or Public
  Well-Being is Irreversible; else Medium when either is Support/Material; else Low.

**Exposure** (small, controlled, open; SSVC System Exposure) is not a decision point of the CISA
table (SSVC uses it in its Deployer tree, not here), and it does not enter Mission and
Well-Being. It is recorded with the decision and used for one thing only: the Automatable
default above. Not known -> `open` (default).

Every decision carries its inputs, each with its value, source and reason, and the table's id
and version; a value from a default is marked `default`, never passed off as known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.signals.ssvc import DecisionTable, parse_table

DATA = Path(__file__).parent / "data"
TABLE_PATH = DATA / "ssvc_cisa_coordinator_2_0_3.json"

Outcome = Literal["Track", "Track*", "Attend", "Act"]
OUTCOMES: tuple[Outcome, ...] = ("Track", "Track*", "Attend", "Act")  # lowest to highest
UNDECIDED_RANK = 9  # an undecided exposure's `ssvc_rank`: listed after every outcome
Source = Literal["kev", "case", "record", "cvss", "asset", "default"]
E = TypeVar("E", bound=StrEnum)


class SsvcInputInvalid(InvalidInput):
    """A value outside a decision point's vocabulary (code `ssvc_value_invalid`)."""

    default_code = "ssvc_value_invalid"
    title = "Invalid SSVC input"


class Exploitation(StrEnum):
    none = "none"
    public_poc = "public_poc"
    active = "active"


class TechnicalImpact(StrEnum):
    partial = "partial"
    total = "total"


class MissionWellbeing(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class MissionImpact(StrEnum):
    """The asset's mission impact: SSVC Mission Impact 2.0.0's values (D, MSC, MEF, MF)."""

    degraded = "degraded"
    crippled = "crippled"  # MEF Support Crippled
    mef_failure = "mef_failure"
    mission_failure = "mission_failure"


class WellbeingImpact(StrEnum):
    """The asset's well-being impact: SSVC Public Well-Being Impact 1.1.0's values."""

    minimal = "minimal"
    material = "material"
    irreversible = "irreversible"


class ExposureLevel(StrEnum):
    """The asset's exposure: SSVC System Exposure 1.0.1's values."""

    small = "small"
    controlled = "controlled"
    open = "open"


# Our vocabulary -> the table's value keys, per decision point (short key).
_KEYS: dict[str, dict[str, str]] = {
    "E": {"none": "N", "public_poc": "P", "active": "A"},
    "A": {"no": "N", "yes": "Y"},
    "TI": {"partial": "P", "total": "T"},
    "MWI": {"low": "L", "medium": "M", "high": "H"},
}
_OUTCOME_KEYS: dict[str, Outcome] = {"T": "Track", "T*": "Track*", "AT": "Attend", "AC": "Act"}

# Mission Prevalence (cisa:MP:1.0.0) standing for one asset's mission impact.
MISSION_PREVALENCE: dict[MissionImpact, str] = {
    MissionImpact.degraded: "minimal",
    MissionImpact.crippled: "support",
    MissionImpact.mef_failure: "essential",
    MissionImpact.mission_failure: "essential",
}
DEFAULT_MISSION_IMPACT = MissionImpact.mef_failure
DEFAULT_WELLBEING_IMPACT = WellbeingImpact.material
DEFAULT_EXPOSURE = ExposureLevel.open


@dataclass(frozen=True)
class Input:
    value: str
    source: Source
    why: str

    def as_json(self) -> dict[str, str]:
        return {"value": self.value, "source": self.source, "why": self.why}


@dataclass(frozen=True)
class SsvcInputs:
    """One value per decision point of the table, each with where it came from; `context`
    holds the asset fields Mission and Well-Being was computed from (and exposure)."""

    exploitation: Input
    automatable: Input
    technical_impact: Input
    mission_wellbeing: Input
    context: tuple[tuple[str, Input], ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "exploitation": self.exploitation.as_json(),
            "automatable": self.automatable.as_json(),
            "technical_impact": self.technical_impact.as_json(),
            "mission_wellbeing": self.mission_wellbeing.as_json(),
        }
        for name, value in self.context:
            out[name] = value.as_json()
        return out


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    inputs: SsvcInputs
    table: str  # "cisa:DT_CO:2.0.3"
    table_version: str  # "2.0.3"

    def as_json(self) -> dict[str, Any]:
        """What an exposure stores as `ssvc_inputs`: the inputs, and the table they met."""
        return {"table": self.table, "table_version": self.table_version, **self.inputs.as_json()}


@cache
def cisa_table() -> DecisionTable:
    """The shipped CISA table, loaded and checked once per process."""
    return load_table(TABLE_PATH)


def load_table(path: Path) -> DecisionTable:
    """Load and check a CISA-shaped SSVC table (complete, no duplicate, known values)."""
    from clearinghouse.vulns.signals.errors import DecisionTableInvalid

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DecisionTableInvalid(f"{path.name} cannot be read: {exc}") from None
    table = parse_table(data)
    keys = {p.key: {v.key for v in p.values} for p in table.inputs}
    expected = {point: set(values.values()) for point, values in _KEYS.items()}
    if keys != expected or {v.key for v in table.outcome.values} != set(_OUTCOME_KEYS):
        raise DecisionTableInvalid(f"{path.name} is not the CISA tree's shape")
    return table


def _enum(kind: type[E], value: str | E, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise SsvcInputInvalid(
            f"{what} must be one of {', '.join(kind)}, not {value!r}", point=what
        ) from None


def mission_wellbeing(mission: MissionImpact, wellbeing: WellbeingImpact) -> MissionWellbeing:
    """SSVC's Mission and Well-Being Impact from Mission Prevalence and Public Well-Being (see
    the module docstring for the mapping from the asset's fields)."""
    prevalence = MISSION_PREVALENCE[mission]
    if prevalence == "essential" or wellbeing is WellbeingImpact.irreversible:
        return MissionWellbeing.high
    if prevalence == "support" or wellbeing is WellbeingImpact.material:
        return MissionWellbeing.medium
    return MissionWellbeing.low


_CVSS_METRIC = re.compile(r"(?:^|/)([A-Z]+):([A-Z])(?=/|$)")


def _cvss_metrics(vector: str | None) -> dict[str, str]:
    if not vector or not vector.startswith("CVSS:"):
        return {}
    return dict(_CVSS_METRIC.findall(vector))


@dataclass(frozen=True)
class SsvcFacts:
    """What is known about one exposure. None is "not known" and takes the documented default.

    `kev`: the record's CVE is in KEV; `case_exploitation`: exploitation evidence recorded in a
    coordination case; `exploitation`: what the record itself says; `cvss_vector`: the record's
    CVSS 3.x or 4.0 vector, for Automatable (4.0's AU) and Technical Impact."""

    kev: bool = False
    case_exploitation: str | None = None
    exploitation: str | None = None
    automatable: bool | None = None
    technical_impact: str | None = None
    cvss_vector: str | None = None
    mission_impact: str | None = None
    wellbeing_impact: str | None = None
    exposure: str | None = None


def _exploitation(facts: SsvcFacts) -> Input:
    case = (
        None
        if facts.case_exploitation is None
        else _enum(Exploitation, facts.case_exploitation, "case_exploitation")
    )
    record = (
        None
        if facts.exploitation is None
        else _enum(Exploitation, facts.exploitation, "exploitation")
    )
    if facts.kev:
        return Input("active", "kev", "listed in CISA's Known Exploited Vulnerabilities catalog")
    # The strongest evidence wins between the case and the record.
    order = list(Exploitation)
    candidates = [(v, s) for v, s in ((case, "case"), (record, "record")) if v is not None]
    if candidates:
        value, source = max(candidates, key=lambda c: order.index(c[0]))
        why = "evidence recorded in a coordination case" if source == "case" else "the record"
        return Input(value.value, source, why)  # type: ignore[arg-type]
    return Input("none", "default", "no KEV listing, no case evidence, none recorded")


def _automatable(facts: SsvcFacts, exposure: ExposureLevel) -> Input:
    if facts.automatable is not None:
        return Input("yes" if facts.automatable else "no", "record", "the record")
    au = _cvss_metrics(facts.cvss_vector).get("AU")
    if au in ("Y", "N"):
        return Input("yes" if au == "Y" else "no", "cvss", f"CVSS 4.0 AU:{au}")
    if exposure is ExposureLevel.small:
        return Input(
            "no",
            "default",
            "not known; the asset's exposure is small, so reconnaissance "
            "cannot be automated (SSVC, Automatable)",
        )
    return Input("yes", "default", "not known; assumed automatable")


def _technical_impact(facts: SsvcFacts) -> Input:
    if facts.technical_impact is not None:
        value = _enum(TechnicalImpact, facts.technical_impact, "technical_impact")
        return Input(value.value, "record", "the record")
    metrics = _cvss_metrics(facts.cvss_vector)
    c, i = metrics.get("VC", metrics.get("C")), metrics.get("VI", metrics.get("I"))
    if c is not None and i is not None:
        total = c == "H" or i == "H"
        return Input(
            "total" if total else "partial",
            "cvss",
            f"CVSS confidentiality {c}, integrity {i}: "
            + ("total control or disclosure" if total else "neither is High"),
        )
    return Input("total", "default", "not known; assumed total")


def resolve(facts: SsvcFacts) -> SsvcInputs:
    """The table's four inputs from what is known, each with its source."""
    exposure_in = (
        Input(_enum(ExposureLevel, facts.exposure, "exposure").value, "asset", "the asset")
        if facts.exposure is not None
        else Input(DEFAULT_EXPOSURE.value, "default", "not known; assumed open")
    )
    mission_in = (
        Input(
            _enum(MissionImpact, facts.mission_impact, "mission_impact").value, "asset", "the asset"
        )
        if facts.mission_impact is not None
        else Input(
            DEFAULT_MISSION_IMPACT.value,
            "default",
            "not known; a critical-infrastructure asset is presumed to carry an essential function",
        )
    )
    wellbeing_in = (
        Input(
            _enum(WellbeingImpact, facts.wellbeing_impact, "wellbeing_impact").value,
            "asset",
            "the asset",
        )
        if facts.wellbeing_impact is not None
        else Input(DEFAULT_WELLBEING_IMPACT.value, "default", "not known; the middle value")
    )
    mission = MissionImpact(mission_in.value)
    wellbeing = WellbeingImpact(wellbeing_in.value)
    mwi = mission_wellbeing(mission, wellbeing)
    parts_default = "default" in (mission_in.source, wellbeing_in.source)
    mwi_in = Input(
        mwi.value,
        "default" if parts_default else "asset",
        f"mission prevalence {MISSION_PREVALENCE[mission]} (mission impact {mission.value}), "
        f"public well-being {wellbeing.value}",
    )
    return SsvcInputs(
        exploitation=_exploitation(facts),
        automatable=_automatable(facts, ExposureLevel(exposure_in.value)),
        technical_impact=_technical_impact(facts),
        mission_wellbeing=mwi_in,
        context=(
            ("mission_impact", mission_in),
            ("wellbeing_impact", wellbeing_in),
            ("exposure", exposure_in),
        ),
    )


def decide(inputs: SsvcInputs, table: DecisionTable | None = None) -> Decision:
    """The CISA tree's outcome for these inputs, carrying them and the table's version."""
    table = table or cisa_table()
    given = {
        "E": inputs.exploitation.value,
        "A": inputs.automatable.value,
        "TI": inputs.technical_impact.value,
        "MWI": inputs.mission_wellbeing.value,
    }
    keys = {}
    for point, value in given.items():
        key = _KEYS[point].get(value)
        if key is None:
            raise SsvcInputInvalid(
                f"{point} must be one of {', '.join(_KEYS[point])}, not {value!r}", point=point
            )
        keys[point] = key
    outcome = table.decide(keys)
    return Decision(
        outcome=_OUTCOME_KEYS[outcome.key],
        inputs=inputs,
        table=table.id,
        table_version=table.version,
    )


def assess(facts: SsvcFacts) -> Decision:
    """`decide(resolve(facts))`: the decision for what is known about one exposure."""
    return decide(resolve(facts))


def rank(outcome: str | None) -> int:
    """The exposure's `ssvc_rank`, the listing's first sort key (most urgent first): Act 0,
    Attend 1, Track* 2, Track 3; `UNDECIDED_RANK` (after every outcome) when not decided."""
    return len(OUTCOMES) - 1 - OUTCOMES.index(outcome) if outcome in OUTCOMES else UNDECIDED_RANK
