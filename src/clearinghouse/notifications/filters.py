"""What a subscription or webhook asks for (pure): event kinds, purl prefixes, a minimum
severity, and whether one notification matches them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

#: an event kind such as `case.published`, a family such as `case.*`, or `*` (everything)
EVENT_PATTERN = r"^(\*|[a-z][a-z0-9_-]{0,39}(\.[a-z][a-z0-9_-]{0,39}){0,3}(\.\*)?)$"
KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,39}(\.[a-z][a-z0-9_-]{0,39}){0,3}$"
_KIND = re.compile(KIND_PATTERN)


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


RANK = {s: i for i, s in enumerate(Severity)}


def valid_kind(kind: str) -> bool:
    return bool(_KIND.fullmatch(kind))


def kind_matches(patterns: Sequence[str], kind: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == kind:
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False


def matches(
    *,
    events: Sequence[str],
    purl_prefixes: Sequence[str],
    min_severity: str | None,
    kind: str,
    purls: Sequence[str],
    severity: str | None,
) -> bool:
    """Whether a notification passes a filter. No purl prefixes: any product; a minimum
    severity excludes notifications without one."""
    if not kind_matches(events, kind):
        return False
    if purl_prefixes and not any(p.startswith(pre) for p in purls for pre in purl_prefixes):
        return False
    if min_severity is not None:
        if severity is None or RANK[Severity(severity)] < RANK[Severity(min_severity)]:
            return False
    return True
