"""A reporter's (or a model's) track record: the share of its earlier reports that were
validated, with its n, honest about small samples.

The caller passes the outcomes of the subject's earlier reports; nothing here reads a database.
`validated` means reproduced or confirmed by a coordinator; `invalid` means not reproduced,
rejected, or found invented; `pending` (not yet decided) is left out of n. With n = 0 the track
record is unknown, never 0% or 100%.

Two small-sample forms are given:
- the Wilson score interval at 95% (it stays inside [0, 1] and does not collapse at 0 or n),
  which the queue shows;
- the posterior mean under a uniform Beta(1, 1) prior, (validated + 1) / (n + 2), which the queue
  sorts by: 1 of 1 is 0.67, not 100%; 0 of 5 is 0.14; no history is the prior's 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from clearinghouse.core.stats import Z95, wilson
from clearinghouse.vulns.signals.errors import SignalInputInvalid


class PriorOutcome(StrEnum):
    validated = "validated"
    invalid = "invalid"
    pending = "pending"


class TrackRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str  # the reporter's or the model's id, as the caller names it
    n: int  # decided earlier reports (validated + invalid)
    validated: int
    pending: int
    share: float | None  # validated / n; None when n = 0
    wilson_low: float | None
    wilson_high: float | None
    posterior_mean: float  # (validated + 1) / (n + 2)

    @property
    def known(self) -> bool:
        return self.n > 0

    def describe(self) -> str:
        if not self.known:
            return f"{self.subject}: no decided earlier reports"
        assert self.wilson_low is not None and self.wilson_high is not None
        return (
            f"{self.subject}: {self.validated} of {self.n} earlier reports validated "
            f"(95% CI {self.wilson_low:.0%}-{self.wilson_high:.0%})"
        )


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of `successes` in `n` (core.stats.wilson)."""
    return wilson(successes / n, n, z) if n > 0 else (0.0, 1.0)


def track_record(subject: str, outcomes: Iterable[PriorOutcome | str]) -> TrackRecord:
    """The track record of `subject` from the outcomes of its earlier reports."""
    counts = dict.fromkeys(PriorOutcome, 0)
    for outcome in outcomes:
        try:
            counts[PriorOutcome(outcome)] += 1
        except ValueError:
            raise SignalInputInvalid(
                f"an earlier report's outcome is one of {', '.join(PriorOutcome)}",
                code="prior_outcome_invalid",
            ) from None
    good, bad = counts[PriorOutcome.validated], counts[PriorOutcome.invalid]
    n = good + bad
    low, high = wilson_interval(good, n) if n else (None, None)
    return TrackRecord(
        subject=subject,
        n=n,
        validated=good,
        pending=counts[PriorOutcome.pending],
        share=round(good / n, 4) if n else None,
        wilson_low=round(low, 4) if low is not None else None,
        wilson_high=round(high, 4) if high is not None else None,
        posterior_mean=round((good + 1) / (n + 2), 4),
    )
