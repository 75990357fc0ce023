"""The triage signals of one report, each with its evidence, and `known = False` when it was
not measured (never a guess): grounded, has a PoC, reproduced, already fixed, duplicate of,
reporter track record, and the SSVC coordinator triage decision computed from them.

`compute_signals()` is pure: the caller (the intake, the validation job) passes what it has: the
report's text, the target's `SourceIndex` (None: no source tree), the `ValidationResult` (None:
not validated), the duplicate candidates its dedup found (None: not checked), the outcomes of
the reporter's earlier reports, and what the record says for SSVC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clearinghouse.vulns.signals.grounding import (
    Grounding,
    GroundingVerdict,
    check_claim,
    check_claims,
    extract_claims,
    frame_claims,
)
from clearinghouse.vulns.signals.reproduction import Reproduction, assess
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.signals.ssvc import SsvcDecision, SsvcFacts, decide, report_credibility
from clearinghouse.vulns.signals.track_record import PriorOutcome, TrackRecord, track_record
from clearinghouse.vulns.validation.schemas import FixedVerdict, ValidationResult, Verdict


class ReportFacts(BaseModel):
    """What the signals read from a report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    title: str = ""
    text: str = ""  # the description (and any other free text the report carries)
    received_at: datetime | None = None
    has_poc: bool = False  # a PoC or recipe is attached
    reporter: str | None = None  # the reporter's (or the model's) id, for the track record


class DuplicateCandidate(BaseModel):
    """A known record or report this one may duplicate, as the caller's dedup found it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    rule: Literal["alias", "crash_signature", "text"]
    score: float | None = None  # the text rule's similarity
    detail: str = ""


class GroundedSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known: bool
    value: GroundingVerdict | None
    score: float | None
    evidence: Grounding | None
    summary: str


class FlagSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known: bool
    value: bool | None
    evidence: list[str]


class ReproducedSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known: bool  # a verdict was reached (reproduced or not)
    value: bool | None  # believably reproduced
    state: Reproduction
    verdict: Verdict | None
    fixed_verdict: FixedVerdict | None
    signature: str | None
    crash_type: str | None
    evidence: list[str]


class DuplicateSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known: bool  # False: no dedup was run
    value: str | None  # the id it duplicates
    candidates: list[DuplicateCandidate]
    evidence: list[str]


class TrackRecordSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known: bool  # False: no reporter, or no decided earlier reports
    value: float | None  # the share validated
    record: TrackRecord | None
    evidence: list[str]


class TriageSignals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str
    received_at: datetime | None
    grounded: GroundedSignal
    has_poc: FlagSignal
    reproduced: ReproducedSignal
    already_fixed: FlagSignal
    duplicate_of: DuplicateSignal
    track_record: TrackRecordSignal
    ssvc: SsvcDecision


_RULE_ORDER = {"alias": 0, "crash_signature": 1, "text": 2}


def _grounded(report: ReportFacts, index: SourceIndex | None) -> GroundedSignal:
    if index is None:
        return GroundedSignal(
            known=False, value=None, score=None, evidence=None, summary="no source tree to check"
        )
    grounding = check_claims(extract_claims(f"{report.title}\n{report.text}"), index)
    found = sum(1 for c in grounding.checked if c.found)
    if grounding.verdict is GroundingVerdict.no_claims:
        summary = "names no file, line or function that can be checked"
    else:
        summary = f"{found} of {len(grounding.checked)} named code locations exist in the source"
        missing = [c.claim for c in grounding.missing()][:3]
        if missing:
            summary += "; not found: " + ", ".join(missing)
    return GroundedSignal(
        known=True,
        value=grounding.verdict,
        score=grounding.score,
        evidence=grounding,
        summary=summary,
    )


def duplicate_signal(candidates: Sequence[DuplicateCandidate] | None) -> DuplicateSignal:
    """The duplicate-of signal from the candidates a dedup found (None: no dedup was run)."""
    if candidates is None:
        return DuplicateSignal(known=False, value=None, candidates=[], evidence=["not checked"])
    ordered = sorted(candidates, key=lambda c: (_RULE_ORDER[c.rule], -(c.score or 0.0), c.id))
    if not ordered:
        return DuplicateSignal(
            known=True, value=None, candidates=[], evidence=["no alias, signature or text match"]
        )
    best = ordered[0]
    detail = f" ({best.detail})" if best.detail else ""
    score = f", similarity {best.score:.2f}" if best.score is not None else ""
    return DuplicateSignal(
        known=True,
        value=best.id,
        candidates=ordered,
        evidence=[f"{best.rule.replace('_', ' ')} match with {best.id}{score}{detail}"],
    )


def compute_signals(
    report: ReportFacts,
    *,
    index: SourceIndex | None = None,
    validation: ValidationResult | None = None,
    fixed_is_latest_release: bool | None = None,
    duplicates: Sequence[DuplicateCandidate] | None = None,
    prior_outcomes: Sequence[PriorOutcome | str] | None = None,
    ssvc_facts: SsvcFacts | None = None,
) -> TriageSignals:
    """Every signal of one report, from what has been measured."""
    grounded = _grounded(report, index)
    frames = None
    if validation is not None and validation.signature and index is not None:
        frames = [check_claim(c, index) for c in frame_claims(validation.signature)]
    repro = assess(validation, fixed_is_latest_release=fixed_is_latest_release, frames=frames)
    reproduced = ReproducedSignal(
        known=repro.state in (Reproduction.reproduced, Reproduction.not_reproduced),
        value={
            Reproduction.reproduced: True,
            Reproduction.not_reproduced: False,
        }.get(repro.state),
        state=repro.state,
        verdict=validation.verdict if validation else None,
        fixed_verdict=validation.fixed_verdict if validation else None,
        signature=validation.signature if validation else None,
        crash_type=validation.crash_type if validation else None,
        evidence=repro.evidence,
    )
    has_poc = report.has_poc or validation is not None
    history = None
    if report.reporter is not None and prior_outcomes is not None:
        history = track_record(report.reporter, prior_outcomes)
    credibility = report_credibility(repro.state, grounded.value, grounded.score)
    return TriageSignals(
        report_id=report.id,
        received_at=report.received_at,
        grounded=grounded,
        has_poc=FlagSignal(
            known=True,
            value=has_poc,
            evidence=["a PoC is attached" if has_poc else "no PoC is attached"],
        ),
        reproduced=reproduced,
        already_fixed=FlagSignal(
            known=repro.already_fixed is not None,
            value=repro.already_fixed,
            evidence=repro.fixed_evidence,
        ),
        duplicate_of=duplicate_signal(duplicates),
        track_record=TrackRecordSignal(
            known=history is not None and history.known,
            value=history.share if history is not None else None,
            record=history,
            evidence=[history.describe() if history else "no reporter history given"],
        ),
        ssvc=decide(ssvc_facts or SsvcFacts(), credibility),
    )
