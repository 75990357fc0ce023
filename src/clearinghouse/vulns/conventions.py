"""OSV's conventions, applied to every record we store, imported or reported: placeholder dates
normalised (the originals kept), SEMVER and Go versions without a leading "v". Imports
(`intake/`) and native reports (`reports.py`) both call `normalise_record`."""

from __future__ import annotations

from typing import Any

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
