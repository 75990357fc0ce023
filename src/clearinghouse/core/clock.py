"""Time. Everything the product stores or prints is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise `value` to aware UTC; a naive value is refused rather than guessed at."""
    if value.tzinfo is None:
        raise ValueError(
            "timestamp has no timezone; send ISO 8601 with an offset, e.g. 2026-12-01T00:00:00Z"
        )
    return value.astimezone(UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with a `Z` suffix, or None."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")
