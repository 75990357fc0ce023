"""A component as OSV names it: (ecosystem, name, version) from its purl, through the project's
one purl check and mapping (`vulns.purls`), the name normalised as the knowledge base stores it
(`vulns.records.normalise_name`). A component that cannot be matched is kept, with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from clearinghouse.core.schemas import unstorable_text
from clearinghouse.inventory.sboms.document import RawComponent
from clearinghouse.vulns.purls import PurlInvalid, package_of, parse_purl
from clearinghouse.vulns.ranges import MAX_VERSION_CHARS, InvalidVersion, version_key
from clearinghouse.vulns.records import normalise_name

MAX_NAME = 300
MAX_VERSION = 200


@dataclass(frozen=True)
class Normalised:
    purl: str | None
    ecosystem: str | None  # None: unmatched
    name: str | None
    version: str | None
    bom_ref: str | None
    unmatched_reason: str | None


def _storable(text: str | None, limit: int) -> str | None:
    """`text` as it may be stored for display (cut to `limit`), or None."""
    if not text or unstorable_text(text) is not None:
        return None
    return text[:limit]


def _unmatched(raw: RawComponent, reason: str, purl: str | None = None) -> Normalised:
    return Normalised(
        purl,
        None,
        _storable(raw.name, MAX_NAME),
        _storable(raw.version, MAX_VERSION),
        _storable(raw.bom_ref, 2000),
        reason[:200],
    )


def normalise(raw: RawComponent) -> Normalised:
    if not raw.purl:
        return _unmatched(raw, "no purl")
    try:
        parsed = parse_purl(raw.purl)
    except PurlInvalid as exc:
        return _unmatched(raw, exc.detail)
    purl = parsed.to_string()
    package = package_of(parsed)
    if package is None:
        return _unmatched(raw, f"purl type {parsed.type[:40]!r} has no OSV ecosystem", purl)
    ecosystem, name, purl_version = package
    version = purl_version or raw.version
    if not version:
        return _unmatched(raw, "no version", purl)
    if len(version) > min(MAX_VERSION, MAX_VERSION_CHARS) or unstorable_text(version):
        return _unmatched(raw, "the version is too long or not storable text", purl)
    if len(name) > MAX_NAME:
        return _unmatched(raw, "the package name is too long", purl)
    try:
        version_key(ecosystem)(version)
    except InvalidVersion as exc:
        return _unmatched(raw, f"{ecosystem} cannot order this version: {exc.detail}", purl)
    return Normalised(
        purl,
        ecosystem,
        normalise_name(ecosystem, name),
        version,
        _storable(raw.bom_ref, 2000),
        None,
    )
