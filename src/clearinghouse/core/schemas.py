"""The base of every request schema.

Every string that reaches the database must be storable in both backends: PostgreSQL refuses
NUL characters in text, and neither backend can store lone UTF-16 surrogates (which JSON's
`\\udXXX` escapes can produce). Such input is rejected here, as a validation error, instead of
failing deep inside a transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, model_validator


def unstorable_text(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    if "\x00" in value:
        return "text must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (no lone surrogates)"
    return None


def check_storable(value: Any) -> None:
    """Raise ValueError if any string in `value` (recursively) cannot be stored."""
    if isinstance(value, str):
        if (reason := unstorable_text(value)) is not None:
            raise ValueError(reason)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_storable(k)
            check_storable(v)
    elif isinstance(value, list | tuple):
        for v in value:
            check_storable(v)


class Input(BaseModel):
    """A request body: unknown fields are refused, and every string must be storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        check_storable(data)
        return data


# Every instant a request may carry. Python's datetimes end at years 1 and 9999 in their own
# zone, so `9999-12-31T23:59:59-14:00` parses but cannot be converted to UTC (which storage,
# comparisons and arithmetic do): it once answered 500. The bounds keep every accepted instant
# far from both ends, so adding a review window or an embargo to it cannot overflow either.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
INSTANT_RANGE = "between 1900-01-01T00:00:00Z and 9000-01-01T00:00:00Z"


def bounded_instant(value: datetime) -> datetime:
    """`value` (timezone-aware) in UTC, or ValueError when it lies outside the bounds."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"the time must lie {INSTANT_RANGE}")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(bounded_instant)]
"""A request's timezone-aware instant, bounded and normalised to UTC: the type of every
datetime a request schema or query parameter takes."""
