"""The disclosure deadline engine: pure functions over a case's facts and an explicit `now`.

It follows the OpenSSF model outbound disclosure policy (and Project Zero's grace rules it
borrows from), every number a field of `DeadlinePolicy`:

- **standard**: publication `disclosure_days` (90) after the first vendor notification, or at
  the embargo date the coordinator agreed for the case, when one was set;
- **fix_scheduled**: `fix_scheduled_extension_days` (+14) when a vendor that is not yet fixed
  has a fix scheduled after that date but within the extension (a fix further out gets none);
- **no_engagement**: when no vendor has answered within `first_response_days` (21) of
  notification, publication becomes possible `no_engagement_days` (35) after notification
  (an answer before day 35 restores the standard deadline);
- **exploited**: `exploited_days` (7) after exploitation in the wild became known (a KEV
  listing of one of the case's CVEs counts), or after notification if it was known before;
- **all_fixed**: once every vendor is fixed or not affected, `all_fixed_grace_days` after the
  last of them, when that is earlier;
- **adjusted**: a coordinator's extensions and shortenings (days, with an audited reason) are
  added to the deadline in force. A rule that takes effect later (a KEV listing mid-embargo,
  the last vendor fixed) supersedes the adjustments made before it;
- weekends (`skip_weekends`) and configured `holidays` roll the deadline forward to the next
  working day, at the same time of day.

The earliest of the rules that apply wins (`standard`/`fix_scheduled` are the ceiling; the
others only ever bring publication closer). Nothing here reads the clock or the database:
`coordination/cases.py` gathers the facts, and `effective_deadline()` there is the seam the
publication job (issue 14 part 4) calls.

The policy is YAML (`coordination_deadline_policy` setting) over the embedded defaults; the
file is validated with pydantic, so a typo is a clear startup error, never a silent default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearinghouse.core.config import Settings
from clearinghouse.core.errors import ConfigurationError


class DeadlinePolicy(BaseModel):
    """The numbers of the disclosure policy (the embedded defaults are OpenSSF's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disclosure_days: int = Field(default=90, ge=1, le=3650)
    first_response_days: int = Field(default=21, ge=1, le=3650)
    no_engagement_days: int = Field(default=35, ge=1, le=3650)
    fix_scheduled_extension_days: int = Field(default=14, ge=0, le=365)
    exploited_days: int = Field(default=7, ge=0, le=365)
    all_fixed_grace_days: int = Field(default=7, ge=0, le=365)
    skip_weekends: bool = False
    holidays: tuple[date, ...] = ()


DEFAULT_POLICY = DeadlinePolicy()


@lru_cache(maxsize=8)
def load_policy(path: Path | None) -> DeadlinePolicy:
    """The policy in the YAML file at `path` (its keys override the defaults), or the
    defaults when no file is configured."""
    if path is None:
        return DEFAULT_POLICY
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"cannot read the deadline policy {path}: {exc}", code="deadline_policy_invalid"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f"the deadline policy {path} must be a mapping", code="deadline_policy_invalid"
        )
    try:
        return DeadlinePolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(
            f"the deadline policy {path} is invalid: {problems}", code="deadline_policy_invalid"
        ) from exc


def policy_for(settings: Settings) -> DeadlinePolicy:
    """The policy the instance is configured with (`coordination_deadline_policy`)."""
    return load_policy(settings.coordination_deadline_policy)


class Rule(StrEnum):
    none = "none"  # no vendor notified and no embargo date: no deadline yet
    standard = "standard"
    embargo = "embargo"
    fix_scheduled = "fix_scheduled"
    no_engagement = "no_engagement"
    exploited = "exploited"
    all_fixed = "all_fixed"


DONE = frozenset({"fixed", "not_affected"})


@dataclass(frozen=True)
class VendorFacts:
    status: str = "unknown"
    first_response_at: datetime | None = None
    fix_scheduled_for: datetime | None = None
    status_at: datetime | None = None  # when the current status was posted


@dataclass(frozen=True)
class Adjustment:
    days: int
    at: datetime


@dataclass(frozen=True)
class CaseFacts:
    notified_at: datetime | None = None
    embargo_until: datetime | None = None
    vendors: Sequence[VendorFacts] = ()
    exploited_at: datetime | None = None
    adjustments: Sequence[Adjustment] = ()


@dataclass(frozen=True)
class Deadline:
    at: datetime | None
    rule: Rule
    response_due: datetime | None = None  # the vendors' first-response window ends
    adjusted_days: int = 0  # the coordinators' adjustments in force
    rolled: bool = False  # moved off a weekend or holiday
    candidates: dict[str, datetime] = field(default_factory=dict)  # every rule that applied


def _roll(at: datetime, policy: DeadlinePolicy) -> datetime:
    """`at`, moved forward to the next working day when it falls on a weekend or holiday."""
    holidays = set(policy.holidays)
    while (policy.skip_weekends and at.weekday() >= 5) or at.date() in holidays:
        at += timedelta(days=1)
    return at


def compute(facts: CaseFacts, now: datetime, policy: DeadlinePolicy = DEFAULT_POLICY) -> Deadline:
    """The case's disclosure deadline at `now`, and the rule that set it."""
    notified = facts.notified_at
    if notified is None:
        if facts.embargo_until is None:
            return Deadline(None, Rule.none)
        at = facts.embargo_until
        return _finish(facts, policy, at, Rule.embargo, since=None, candidates={"embargo": at})
    ceiling_rule = Rule.embargo if facts.embargo_until is not None else Rule.standard
    ceiling = facts.embargo_until or notified + timedelta(days=policy.disclosure_days)
    candidates: dict[str, datetime] = {ceiling_rule.value: ceiling}

    grace_end = ceiling + timedelta(days=policy.fix_scheduled_extension_days)
    if policy.fix_scheduled_extension_days and any(
        v.status not in DONE
        and v.fix_scheduled_for is not None
        and ceiling < v.fix_scheduled_for <= grace_end
        for v in facts.vendors
    ):
        ceiling, ceiling_rule = grace_end, Rule.fix_scheduled
        candidates[Rule.fix_scheduled.value] = grace_end

    # Earlier rules, each with the instant it took effect (adjustments before it are superseded).
    earlier: list[tuple[datetime, Rule, datetime]] = []
    response_due = notified + timedelta(days=policy.first_response_days)
    no_engagement_at = notified + timedelta(days=policy.no_engagement_days)
    if facts.vendors and now >= response_due:
        horizon = min(now, no_engagement_at)
        answered = any(
            v.first_response_at is not None and v.first_response_at < horizon for v in facts.vendors
        )
        if not answered:
            earlier.append((no_engagement_at, Rule.no_engagement, response_due))
    if facts.exploited_at is not None and facts.exploited_at <= now:
        known = max(facts.exploited_at, notified)
        earlier.append((known + timedelta(days=policy.exploited_days), Rule.exploited, known))
    if facts.vendors and all(v.status in DONE for v in facts.vendors):
        last = max((v.status_at or notified) for v in facts.vendors)
        earlier.append((last + timedelta(days=policy.all_fixed_grace_days), Rule.all_fixed, last))

    at, rule, since = ceiling, ceiling_rule, None
    for when, why, effective_from in earlier:
        candidates[why.value] = when
        if when < at:
            at, rule, since = when, why, effective_from
    return _finish(facts, policy, at, rule, since=since, candidates=candidates, due=response_due)


def _finish(
    facts: CaseFacts,
    policy: DeadlinePolicy,
    at: datetime,
    rule: Rule,
    *,
    since: datetime | None,
    candidates: dict[str, datetime],
    due: datetime | None = None,
) -> Deadline:
    days = sum(a.days for a in facts.adjustments if since is None or a.at > since)
    adjusted = at + timedelta(days=days)
    rolled = _roll(adjusted, policy)
    return Deadline(rolled, rule, due, days, rolled != adjusted, candidates)
