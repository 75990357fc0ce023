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

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
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


# --- normalisation to OSV's conventions, at intake ------------------------------------------

# A date before this is a placeholder (osv.dev's Go records carry `0001-01-01T00:00:00Z` for
# `modified` and often `published`): no vulnerability record predates the Unix epoch.
PLACEHOLDER_BEFORE = 1970
EPOCH = "1970-01-01T00:00:00Z"
_DATE_FIELDS = ("modified", "published", "withdrawn")


def normalise_record(doc: dict[str, Any]) -> dict[str, Any]:
    """A canonical OSV document in OSV's conventions, changed in place and returned:
    - placeholder dates: `published`/`withdrawn` are dropped, `modified` becomes the real
      `published` (else the epoch, so that importing the same file twice changes nothing),
      and the originals are kept in `database_specific.placeholder_dates`;
    - versions: SEMVER range events carry no leading "v" (OSV schema, `ranges[].type`), nor
      do Go versions (`1.2.3`, as osv.dev's Go records are written)."""
    placeholders = {
        f: doc[f] for f in _DATE_FIELDS if isinstance(doc.get(f), str) and _placeholder(doc[f])
    }
    if placeholders:
        for f in ("published", "withdrawn"):
            if f in placeholders:
                del doc[f]
        if "modified" in placeholders:
            doc["modified"] = doc.get("published") or EPOCH
        specific = doc.get("database_specific")
        specific = dict(specific) if isinstance(specific, dict) else {}
        specific["placeholder_dates"] = placeholders
        doc["database_specific"] = specific
    for aff in doc.get("affected") or []:
        go = (aff.get("package") or {}).get("ecosystem", "").split(":", 1)[0] == "Go"
        if go and aff.get("versions"):
            aff["versions"] = [_strip_v(v) for v in aff["versions"]]
        for range_ in aff.get("ranges") or []:
            if range_.get("type") == "SEMVER" or (go and range_.get("type") == "ECOSYSTEM"):
                range_["events"] = [
                    {k: _strip_v(v) for k, v in e.items()} for e in range_["events"]
                ]
    return doc


def _placeholder(stamp: str) -> bool:
    return stamp[:4].isdigit() and int(stamp[:4]) < PLACEHOLDER_BEFORE


def _strip_v(version: str) -> str:
    """`v1.2.3` → `1.2.3`; "0", "go1.22" and anything not a `v` followed by a digit stay."""
    if len(version) > 1 and version[0] == "v" and version[1].isdigit():
        return version[1:]
    return version
