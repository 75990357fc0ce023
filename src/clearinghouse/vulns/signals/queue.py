"""The triage queue: reports ordered by evidence, not by arrival, each with why it sits where it
does; and the audit sample of the reports marked likely invalid.

**Tiers**, first match wins (`tier_of()`):

| tier | name | when |
|---|---|---|
| 0 | reproduced, not fixed | the PoC believably reproduced it, and it is not known to be fixed in a release |
| 1 | credible, PoC attached | not yet validated; grounded, or at least half of what it names exists, or no source tree to check it against; a PoC is attached |
| 2 | credible, no PoC | the same without a PoC |
| 3 | needs review | the PoC did not reproduce it, or the reproduction is suspect or inconclusive, yet the code it names exists |
| 4 | already fixed | reproduced, and a release no longer has it |
| 5 | duplicate | a dedup rule matched a known record or report |
| 6 | likely invalid | not believably reproduced, and: it names code none of which exists (`ungrounded`), or less than half of it exists, or it names nothing checkable and has no PoC, or the PoC did not reproduce it and the source does not have everything it names |

Within a tier: the SSVC outcome (Coordinate, Track, Decline), then the grounding score (higher
first; a report with no checkable claims counts as 0, one with no source tree as 0.5), then the reporter's track record (its Beta(1, 1) posterior mean,
higher first; none is 0.5), then a PoC before none, then arrival (earlier first; unknown last),
then the report id. The order is a total order on those values, so it is deterministic.

**Audit sample.** A configurable share of the likely-invalid reports goes to a human spot
check: report R is picked when `sha256(salt NUL R)`, read as a fraction of 2^64 from its first 8
bytes, is below the share. A report's pick depends only on its id and the salt, so it never
changes as other reports arrive, and anyone with the salt can recompute it. The realised share
varies around the configured one; with `at_least_one` a non-empty likely-invalid set always
sends its lowest draw. Keep the salt secret (derive it from an instance secret) if reporters must
not predict which of their reports are checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import IntEnum

from pydantic import BaseModel, ConfigDict

from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.grounding import GroundingVerdict
from clearinghouse.vulns.signals.reproduction import Reproduction
from clearinghouse.vulns.signals.signals import TriageSignals
from clearinghouse.vulns.signals.ssvc import CREDIBLE_SHARE

_SSVC_RANK = {"coordinate": 0, "track": 1, "decline": 2}
_LATEST = datetime.max.replace(tzinfo=UTC)


class Tier(IntEnum):
    reproduced_open = 0
    credible_with_poc = 1
    credible = 2
    needs_review = 3
    already_fixed = 4
    duplicate = 5
    likely_invalid = 6


TIER_NAMES = {
    Tier.reproduced_open: "reproduced, not fixed",
    Tier.credible_with_poc: "credible, PoC attached",
    Tier.credible: "credible, no PoC",
    Tier.needs_review: "needs review",
    Tier.already_fixed: "already fixed",
    Tier.duplicate: "duplicate",
    Tier.likely_invalid: "likely invalid",
}


class QueueEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str
    position: int  # 1-based
    tier: int
    tier_name: str
    likely_invalid: bool
    ssvc: str  # the SSVC outcome
    why: str


class AuditPick(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str
    draw: float  # in [0, 1): the report's deterministic draw
    why: str


def _invalid_reason(s: TriageSignals) -> str | None:
    """Why the report is likely invalid, or None if it is not."""
    state, verdict = s.reproduced.state, s.grounded.value
    score = s.grounded.score if s.grounded.score is not None else 0.0
    if state is Reproduction.reproduced:
        return None
    if verdict is GroundingVerdict.ungrounded:
        return "none of the code it names exists in the source: " + _missing(s)
    if verdict is GroundingVerdict.partly_grounded and score < CREDIBLE_SHARE:
        return f"only {score:.0%} of what it names exists in the source; not found: " + _missing(s)
    if verdict is GroundingVerdict.no_claims and not s.has_poc.value:
        return "it names no code that can be checked and carries no PoC"
    if state is Reproduction.not_reproduced and verdict is not GroundingVerdict.grounded:
        return "the PoC ran and did not reproduce it, and the source lacks some of what it names"
    if state is Reproduction.suspect and verdict is not GroundingVerdict.grounded:
        return "the reproduction is suspect (" + "; ".join(s.reproduced.evidence[1:] or ["?"]) + ")"
    return None


def _missing(s: TriageSignals) -> str:
    if s.grounded.evidence is None:
        return ""
    names = list(dict.fromkeys(c.claim for c in s.grounded.evidence.missing()))
    shown = ", ".join(names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def tier_of(s: TriageSignals, likely_invalid: bool | None = None) -> tuple[Tier, str]:
    """The report's tier and the reason for it. `likely_invalid` is a coordinator's word on the
    "likely invalid" mark (None: none given): True puts the report there, False keeps it out
    (it then needs review)."""
    state = s.reproduced.state
    if likely_invalid:
        return Tier.likely_invalid, "likely invalid: a coordinator marked it so"
    if s.duplicate_of.value is not None:
        return Tier.duplicate, f"duplicate of {s.duplicate_of.value}: " + "; ".join(
            s.duplicate_of.evidence
        )
    if state is Reproduction.reproduced:
        detail = "; ".join(s.reproduced.evidence + s.already_fixed.evidence)
        if s.already_fixed.value:
            return Tier.already_fixed, "already fixed: " + detail
        return Tier.reproduced_open, detail
    reason = _invalid_reason(s)
    if reason is not None:
        if likely_invalid is False:
            return (
                Tier.needs_review,
                f"needs review: a coordinator judged it not invalid ({reason})",
            )
        return Tier.likely_invalid, "likely invalid: " + reason
    if state in (Reproduction.not_reproduced, Reproduction.suspect, Reproduction.inconclusive):
        return Tier.needs_review, "needs review: " + "; ".join(s.reproduced.evidence)
    grounding = s.grounded.summary if s.grounded.known else "no source tree to check it against"
    if s.has_poc.value:
        return Tier.credible_with_poc, f"{grounding}; a PoC is attached, not yet validated"
    return Tier.credible, f"{grounding}; no PoC"


class Placement(BaseModel):
    """Where a report sits, without its position: the tier, the reason, and the sort key
    within the tier as plain values (so a caller can store them and order in SQL exactly as
    `rank()` orders: `key()`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str
    tier: int
    tier_name: str
    likely_invalid: bool
    ssvc: str  # the SSVC outcome
    ssvc_rank: int  # Coordinate 0, Track 1, Decline 2
    score_key: float  # minus the grounding score (none: 0; no tree: 0.5)
    trust_key: float  # minus the reporter's posterior mean (none: 0.5)
    no_poc: bool
    received: datetime  # unknown: the latest instant
    detail: str  # why, after "N of M, <tier name>: "

    def key(self) -> tuple[int, int, float, float, bool, datetime, str]:
        return (
            self.tier,
            self.ssvc_rank,
            self.score_key,
            self.trust_key,
            self.no_poc,
            self.received,
            self.report_id,
        )


def placement(
    s: TriageSignals, *, likely_invalid: bool | None = None, notes: Sequence[str] = ()
) -> Placement:
    """The report's placement; `notes` (a coordinator's overrides, say) are added to its why."""
    tier, reason = tier_of(s, likely_invalid)
    score = s.grounded.score
    if score is None:  # no claims to check counts as none found; no tree, as a coin toss
        score = 0.0 if s.grounded.known else 0.5
    record = s.track_record.record
    trust = record.posterior_mean if record is not None else 0.5
    received = s.received_at if s.received_at is not None else _LATEST
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    parts = [reason, s.ssvc.describe()]
    if s.track_record.known:
        parts.append("reporter " + s.track_record.evidence[0])
    parts += list(notes)
    return Placement(
        report_id=s.report_id,
        tier=int(tier),
        tier_name=TIER_NAMES[tier],
        likely_invalid=tier is Tier.likely_invalid,
        ssvc=s.ssvc.outcome,
        ssvc_rank=_SSVC_RANK[s.ssvc.outcome],
        score_key=-score,
        trust_key=-trust,
        no_poc=not s.has_poc.value,
        received=received,
        detail="; ".join(parts),
    )


def entry(p: Placement, position: int, total: int) -> QueueEntry:
    """The queue entry of a placement at `position` (1-based) of `total`."""
    return QueueEntry(
        report_id=p.report_id,
        position=position,
        tier=p.tier,
        tier_name=p.tier_name,
        likely_invalid=p.likely_invalid,
        ssvc=p.ssvc,
        why=f"{position} of {total}, {p.tier_name}: {p.detail}",
    )


def rank(signals: Sequence[TriageSignals]) -> list[QueueEntry]:
    """The queue: every report with its position and why."""
    placed = sorted((placement(s) for s in signals), key=Placement.key)
    return [entry(p, position, len(placed)) for position, p in enumerate(placed, start=1)]


def draw(report_id: str, salt: str = "") -> float:
    """The report's audit draw: a fraction in [0, 1) from sha256(salt NUL id)."""
    digest = hashlib.sha256(f"{salt}\x00{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def audit_sample(
    entries: Sequence[QueueEntry],
    share: float,
    *,
    salt: str = "",
    at_least_one: bool = True,
) -> list[AuditPick]:
    """The likely-invalid reports picked for a human spot check, in queue order."""
    if not 0.0 <= share <= 1.0:
        raise SignalInputInvalid("the audit share is between 0 and 1", code="audit_share_invalid")
    candidates = [(e, draw(e.report_id, salt)) for e in entries if e.likely_invalid]
    picked = [(e, d) for e, d in candidates if d < share]
    if not picked and at_least_one and share > 0 and candidates:
        picked = [min(candidates, key=lambda c: (c[1], c[0].report_id))]
    return [
        AuditPick(
            report_id=e.report_id,
            draw=round(d, 6),
            why=(
                f"audit sample: draw {d:.4f} below the share {share:.2f}"
                if d < share
                else f"audit sample: the lowest draw ({d:.4f}) of {len(candidates)} likely invalid"
            ),
        )
        for e, d in picked
    ]
