"""What the intake modules share: OSV timestamps, the package of a document's purl, and the
result of an import with its rejection reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.purls import PurlInvalid, package_of, parse_purl

# Ecosystems whose versions are SemVer 2.0, so OSV ranges over them are of type SEMVER.
SEMVER_ECOSYSTEMS = frozenset({"npm", "Go", "crates.io", "Hex", "Pub"})


def osv_timestamp(value: str | None) -> str | None:
    """Any ISO 8601 timestamp → OSV's `YYYY-MM-DDTHH:MM:SSZ` (UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # A time near year 1 or 9999 in its own zone may not exist in UTC (OverflowError).
        utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FormatError(f"not an ISO 8601 timestamp in range: {value!r}") from exc
    if utc.year < 1000:  # OSV timestamps have four-digit years
        raise FormatError(f"not an ISO 8601 timestamp in range: {value!r}")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def document_package(purl: str, where: str) -> tuple[str, str, str | None] | None:
    """A document's package: a malformed purl rejects the document's record (nothing of it
    is stored); a valid purl of a type we do not map leaves the product unmapped."""
    try:
        return package_of(parse_purl(purl))
    except PurlInvalid as exc:
        raise FormatError(f"{where}: {exc.detail} [purl_invalid]") from None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    removed: int = 0  # KEV entries a whole catalog no longer lists

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            **({"removed": self.removed} if self.removed else {}),
        }


def rejection_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    if isinstance(exc, ClearinghouseError):
        return exc.detail
    if isinstance(exc, SQLAlchemyError):  # the statement would leak data; the kind is enough
        return (
            f"the database refused the record ({type(getattr(exc, 'orig', None) or exc).__name__})"
        )
    return str(exc)
