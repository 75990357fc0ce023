"""A coordinator's word over an automatic verdict: which signals can be overridden, with which
values, and the signals as they read with the overrides applied (the automatic values are kept
by the caller; this returns a new bundle).

| signal | values | effect |
|---|---|---|
| `grounded` | grounded, partly_grounded, ungrounded, no_claims | the grounding verdict (score 1 for grounded, 0 for ungrounded and no_claims; partly_grounded keeps a measured partial score, else 0.5) |
| `reproduced` | true, false | reproduced (believably) or not reproduced |
| `already_fixed` | true, false | |
| `duplicate_of` | a record or report id, or `none` | |
| `ssvc` | decline, track, coordinate | the SSVC outcome |
| `likely_invalid` | true, false | the queue's bottom: in it, or kept out of it (needs review) |

Unless `ssvc` itself is overridden, the SSVC decision is recomputed from the overridden
grounding and reproduction (Report Credibility reads them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.grounding import GroundingVerdict
from clearinghouse.vulns.signals.reproduction import Reproduction
from clearinghouse.vulns.signals.signals import (
    DuplicateSignal,
    FlagSignal,
    GroundedSignal,
    ReproducedSignal,
    TriageSignals,
)
from clearinghouse.vulns.signals.ssvc import SsvcFacts, decide, report_credibility

OverridableSignal = Literal[
    "grounded", "reproduced", "already_fixed", "duplicate_of", "ssvc", "likely_invalid"
]
SIGNALS: tuple[str, ...] = (
    "grounded",
    "reproduced",
    "already_fixed",
    "duplicate_of",
    "ssvc",
    "likely_invalid",
)
_BOOL = {"true": True, "false": False}
_DUPLICATE_ID = r"^[A-Za-z0-9._:+-]{1,120}$"


def check_override(signal: str, value: str) -> str:
    """The value, normalised, or `SignalInputInvalid` (`override_invalid`) naming what is
    accepted."""
    v = value.strip()
    allowed: tuple[str, ...]
    match signal:
        case "grounded":
            allowed = tuple(GroundingVerdict)
        case "reproduced" | "already_fixed" | "likely_invalid":
            allowed = ("true", "false")
            v = v.lower()
        case "ssvc":
            allowed = ("decline", "track", "coordinate")
            v = v.lower()
        case "duplicate_of":
            if v.lower() == "none" or re.match(_DUPLICATE_ID, v):
                return "none" if v.lower() == "none" else v
            raise SignalInputInvalid(
                "duplicate_of takes a record or report id, or none", code="override_invalid"
            )
        case _:
            raise SignalInputInvalid(
                f"the signals that can be overridden are {', '.join(SIGNALS)}",
                code="override_invalid",
            )
    if v not in allowed:
        raise SignalInputInvalid(
            f"{signal} takes one of {', '.join(allowed)}", code="override_invalid"
        )
    return v


def automatic_value(s: TriageSignals, signal: str) -> str | None:
    """What the signals said for `signal` before any override (None: not measured)."""
    match signal:
        case "grounded":
            return s.grounded.value.value if s.grounded.value is not None else None
        case "reproduced":
            return None if s.reproduced.value is None else str(s.reproduced.value).lower()
        case "already_fixed":
            return None if s.already_fixed.value is None else str(s.already_fixed.value).lower()
        case "duplicate_of":
            return s.duplicate_of.value if s.duplicate_of.known else None
        case "ssvc":
            return s.ssvc.outcome
    return None


def _grounded(current: GroundedSignal, value: str) -> GroundedSignal:
    verdict = GroundingVerdict(value)
    score: float | None
    if verdict is GroundingVerdict.grounded:
        score = 1.0
    elif verdict is GroundingVerdict.partly_grounded:
        measured = current.score if current.value is GroundingVerdict.partly_grounded else None
        score = measured if measured is not None else 0.5
    else:
        score = 0.0 if verdict is GroundingVerdict.ungrounded else None
    return current.model_copy(
        update={
            "known": True,
            "value": verdict,
            "score": score,
            "summary": f"a coordinator: {verdict.value} (automatic: {current.summary})",
        }
    )


def apply_overrides(
    s: TriageSignals, overrides: Mapping[str, str], *, ssvc_facts: SsvcFacts | None = None
) -> TriageSignals:
    """The signals with `overrides` ({signal: value}, values as `check_override` gives them)
    applied; `likely_invalid` is not a signal of the bundle (the queue reads it: see
    `queue.placement`)."""
    update: dict[str, object] = {}
    grounded, reproduced = s.grounded, s.reproduced
    if "grounded" in overrides:
        grounded = _grounded(s.grounded, overrides["grounded"])
        update["grounded"] = grounded
    if "reproduced" in overrides:
        yes = _BOOL[overrides["reproduced"]]
        reproduced = ReproducedSignal(
            **{
                **s.reproduced.model_dump(),
                "known": True,
                "value": yes,
                "state": Reproduction.reproduced if yes else Reproduction.not_reproduced,
                "evidence": [
                    f"a coordinator: {'reproduced' if yes else 'not reproduced'}",
                    *s.reproduced.evidence,
                ],
            }
        )
        update["reproduced"] = reproduced
    if "already_fixed" in overrides:
        yes = _BOOL[overrides["already_fixed"]]
        update["already_fixed"] = FlagSignal(
            known=True,
            value=yes,
            evidence=[f"a coordinator: {'already fixed' if yes else 'not fixed'}"],
        )
    if "duplicate_of" in overrides:
        target = overrides["duplicate_of"]
        update["duplicate_of"] = DuplicateSignal(
            known=True,
            value=None if target == "none" else target,
            candidates=s.duplicate_of.candidates,
            evidence=[
                "a coordinator: not a duplicate"
                if target == "none"
                else f"a coordinator: duplicate of {target}"
            ],
        )
    if "ssvc" in overrides:
        update["ssvc"] = s.ssvc.model_copy(update={"outcome": overrides["ssvc"]})
    elif "grounded" in overrides or "reproduced" in overrides:
        credibility = report_credibility(reproduced.state, grounded.value, grounded.score)
        update["ssvc"] = decide(ssvc_facts or SsvcFacts(), credibility)
    return s.model_copy(update=update)


def likely_invalid_override(overrides: Mapping[str, str]) -> bool | None:
    value = overrides.get("likely_invalid")
    return None if value is None else _BOOL[value]
