"""The quality rules: pure functions of one canonical OSV document (after intake's
normalisation), each finding a `Finding(code, field, message)`. Written by hand: osv-linter is
a Go program, and no Python library lints OSV records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.osv import ecosystem_problem, osv_id
from clearinghouse.vulns.purls import PurlInvalid, package_of, parse_purl
from clearinghouse.vulns.ranges import version_key
from clearinghouse.vulns.records import normalise_name

# code → (name, what it means). SCH0001 refuses the record; the others are findings.
RULES: dict[str, tuple[str, str]] = {
    "SCH0001": ("schema", "the record does not validate against the OSV schema (refused)"),
    "SCH0002": ("ecosystem-known", "an affected package's ecosystem is not in the OSV schema"),
    "SCH0003": ("git-full-hash", "a GIT range event is not a full-length commit hash"),
    "REC0001": ("matchable", "no affected package or GIT range: no query can match the record"),
    "REC0002": ("aliases-distinct", "an id is both an alias and related, or aliases itself"),
    "REC0003": ("real-dates", "placeholder dates were normalised at import"),
    "REC0004": ("id-prefix", "the id's prefix is not registered in the OSV schema"),
    "RNG0001": ("versions-parse", "a range event's version does not parse in its ecosystem"),
    "RNG0002": ("ranges-ordered", "a fixed or last_affected version is below its introduced"),
    "PKG0001": ("purl-matches", "the package's purl names another package"),
}
SCHEMA_REFUSAL = "SCH0001"
_FULL_HASH = re.compile(r"^(0|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class Finding:
    code: str
    field: str
    message: str


def lint(doc: dict[str, Any]) -> list[Finding]:
    """Every finding on one record, in document order."""
    out: list[Finding] = []
    if osv_id(doc["id"]) != doc["id"]:
        out.append(Finding("REC0004", "id", f"{doc['id']!r} is served as {osv_id(doc['id'])!r}"))
    aliases, related = set(doc.get("aliases") or ()), set(doc.get("related") or ())
    if doc["id"] in aliases or aliases & related:
        both = sorted((aliases & related) | ({doc["id"]} & aliases))
        out.append(Finding("REC0002", "aliases", f"listed twice: {', '.join(both)[:300]}"))
    placeholders = (doc.get("database_specific") or {}).get("placeholder_dates")
    if placeholders:
        out.append(Finding("REC0003", "database_specific.placeholder_dates", str(placeholders)))
    matchable = False
    for n, aff in enumerate(doc.get("affected") or []):
        where = f"affected[{n}]"
        pkg = aff.get("package")
        if pkg:
            matchable = True
            out += _package(pkg, f"{where}.package")
        for m, range_ in enumerate(aff.get("ranges") or []):
            if range_.get("type") == "GIT":
                matchable = True
            out += _range(range_, (pkg or {}).get("ecosystem", ""), f"{where}.ranges[{m}]")
    if not matchable:
        out.append(Finding("REC0001", "affected", "nothing to match"))
    return out


def _package(pkg: dict[str, Any], where: str) -> list[Finding]:
    out = []
    ecosystem = pkg["ecosystem"]
    if (problem := ecosystem_problem(ecosystem)) is not None:
        out.append(Finding("SCH0002", f"{where}.ecosystem", problem))
    if pkg.get("purl"):
        try:
            named = package_of(parse_purl(pkg["purl"]))
        except PurlInvalid:  # refused by the schema check already; never trust that
            named = None
        if named is not None and (
            named[0] != ecosystem.split(":", 1)[0]
            or normalise_name(named[0], named[1]) != normalise_name(ecosystem, pkg["name"])
        ):
            out.append(
                Finding(
                    "PKG0001", f"{where}.purl", f"{pkg['purl'][:200]} is not {pkg['name'][:200]}"
                )
            )
    return out


def _range(range_: dict[str, Any], ecosystem: str, where: str) -> list[Finding]:
    events = range_.get("events") or []
    if range_.get("type") == "GIT":
        bad = [v for e in events for v in e.values() if not _FULL_HASH.match(v)]
        return [Finding("SCH0003", f"{where}.events", f"{bad[0][:80]!r}")] if bad else []
    try:
        key = version_key(ecosystem, range_.get("type", "ECOSYSTEM"))
    except InvalidInput:
        return []  # an ecosystem with no known ordering: SCH0002 or nothing we can check
    keys: dict[str, Any] = {}
    for e in events:
        ((kind, version),) = e.items()
        if version in ("0", "*"):
            continue
        try:
            keys.setdefault(kind, key(version))
        except (InvalidInput, TypeError, ValueError):
            return [Finding("RNG0001", f"{where}.events", f"{kind} {version[:80]!r}")]
    intro = keys.get("introduced")
    for kind in ("fixed", "last_affected"):
        try:
            if intro is not None and kind in keys and keys[kind] < intro:
                return [Finding("RNG0002", f"{where}.events", f"{kind} is below introduced")]
        except (TypeError, ValueError):
            return [Finding("RNG0001", f"{where}.events", "the versions cannot be compared")]
    return []
