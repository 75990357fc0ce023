"""The OSV range evaluator: is version `v` of a package affected by an OSV `affected` entry?

Written by hand because no maintained Python library evaluates OSV ranges (the `osv` package
is archived). It follows the OSV schema's evaluation rules (docs/schema.md, "Evaluation"):
a version is affected when it is listed in `versions`, or when, in some `SEMVER`/`ECOSYSTEM`
range, walking the events in version order sets it vulnerable at `v >= introduced` and clears
it at `v >= fixed` or `v > last_affected`, and it is below the range's `limit` (if any).

Versions are compared with the ecosystem's own ordering: PEP 440 for PyPI (`packaging`),
SemVer 2.0 for `SEMVER` ranges, Go, crates.io and npm, and `univers` for Maven, NuGet,
RubyGems, Debian, Alpine, Packagist and others. Ranges are built from events, never from
native range strings (univers mis-parses some of those).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion as PepInvalid
from packaging.version import Version as PepVersion
from univers import versions as uv

from clearinghouse.core.errors import InvalidInput


class InvalidVersion(InvalidInput):
    default_code = "version_invalid"


Key = Any  # a totally ordered comparison key for one ecosystem's versions


def _pep440(v: str) -> Key:
    try:
        return PepVersion(v)
    except (PepInvalid, ValueError) as exc:  # ValueError: Python's integer-conversion limit
        raise InvalidVersion(f"{v!r} is not a PEP 440 version") from exc


def _univers(cls: type[uv.Version], *, strip_v: bool = False) -> Callable[[str], Key]:
    def key(v: str) -> Key:
        text = v[1:] if strip_v and v.startswith("v") else v
        try:
            return cls(text)
        except Exception as exc:  # univers raises several types for bad input
            raise InvalidVersion(f"{v!r} is not a valid {cls.__name__}") from exc

    return key


# Ecosystem names are case-sensitive, as in OSV.
_ECOSYSTEMS: dict[str, Callable[[str], Key]] = {
    "PyPI": _pep440,
    "Go": _univers(uv.SemverVersion, strip_v=True),
    "crates.io": _univers(uv.SemverVersion),
    "npm": _univers(uv.SemverVersion),
    "Maven": _univers(uv.MavenVersion),
    "NuGet": _univers(uv.NugetVersion),
    "RubyGems": _univers(uv.RubygemsVersion),
    "Packagist": _univers(uv.ComposerVersion),
    "Debian": _univers(uv.DebianVersion),
    "Ubuntu": _univers(uv.DebianVersion),
    "Alpine": _univers(uv.AlpineLinuxVersion),
    "Hex": _univers(uv.SemverVersion),
    "Pub": _univers(uv.SemverVersion),
}
SEMVER = _univers(uv.SemverVersion, strip_v=True)


def version_key(ecosystem: str, range_type: str = "ECOSYSTEM") -> Callable[[str], Key]:
    """The comparison key for versions of `ecosystem` (or SemVer for a SEMVER range)."""
    if range_type == "SEMVER":
        return SEMVER
    base = ecosystem.split(":", 1)[0]  # "Debian:12" → Debian ordering
    try:
        return _ECOSYSTEMS[base]
    except KeyError:
        raise InvalidVersion(
            f"no version ordering is known for ecosystem {ecosystem!r}",
            code="ecosystem_unsupported",
        ) from None


@dataclass(frozen=True)
class Event:
    kind: str  # introduced | fixed | last_affected | limit
    version: str


_ZERO, _INF = "0", "*"


def _parse_events(raw: Sequence[dict[str, str]]) -> list[Event]:
    events = []
    for item in raw:
        if len(item) != 1:
            raise InvalidInput(
                f"an OSV event has exactly one key, got {sorted(item)}", code="range_invalid"
            )
        ((kind, version),) = item.items()
        if kind not in {"introduced", "fixed", "last_affected", "limit"}:
            raise InvalidInput(f"unknown OSV event {kind!r}", code="range_invalid")
        events.append(Event(kind, version))
    return events


class _Bound:
    """Orders the special event versions: "0" below everything, "*" above everything."""

    __slots__ = ("key", "rank")

    def __init__(self, rank: int, key: Key = None) -> None:
        self.rank, self.key = rank, key

    def __lt__(self, other: _Bound) -> bool:
        if self.rank != other.rank:
            return self.rank < other.rank
        try:
            return bool(self.key < other.key)
        except (TypeError, ValueError) as exc:
            # univers compares some versions lazily, and fails there (an empty NuGet version
            # is None inside, a 5,000-digit RubyGems segment exceeds Python's int limit).
            raise InvalidVersion("the versions cannot be compared") from exc


# No real version is longer; a longer one (anonymous queries carry any) is refused before it
# is parsed, or kept in the key cache below.
MAX_VERSION_CHARS = 256


def _key(ecosystem: str, range_type: str, version: str) -> Key:
    if len(version) > MAX_VERSION_CHARS:
        raise InvalidVersion(f"a version is at most {MAX_VERSION_CHARS} characters")
    return _cached_key(ecosystem, range_type, version)


@functools.lru_cache(maxsize=65536)
def _cached_key(ecosystem: str, range_type: str, version: str) -> Key:
    return version_key(ecosystem, range_type)(version)


def _bound(ecosystem: str, range_type: str, event: Event) -> _Bound:
    if event.kind == "introduced" and event.version == _ZERO:
        return _Bound(0)
    if event.kind == "limit" and event.version == _INF:
        return _Bound(2)
    return _Bound(1, _key(ecosystem, range_type, event.version))


def in_range(version: str, ecosystem: str, range_: dict[str, Any]) -> bool:
    """Evaluate one SEMVER/ECOSYSTEM range for `version`. GIT ranges need a commit graph and are
    matched through the entry's `versions` list instead (as the OSV schema asks)."""
    rtype = range_.get("type")
    if rtype == "GIT":
        return False
    if rtype not in {"SEMVER", "ECOSYSTEM"}:
        raise InvalidInput(f"unknown range type {rtype!r}", code="range_invalid")
    events = _parse_events(range_.get("events", []))
    if not any(e.kind == "introduced" for e in events):
        raise InvalidInput("a range needs at least one introduced event", code="range_invalid")
    v = _Bound(1, _key(ecosystem, rtype, version))
    limits = [_bound(ecosystem, rtype, e) for e in events if e.kind == "limit"]
    if limits and not any(v < lim for lim in limits):
        return False
    ordered = sorted(
        (e for e in events if e.kind != "limit"), key=lambda e: _bound(ecosystem, rtype, e)
    )
    vulnerable = False
    for e in ordered:
        b = _bound(ecosystem, rtype, e)
        if e.kind == "introduced" and not v < b:
            vulnerable = True
        elif e.kind == "fixed" and not v < b:
            vulnerable = False
        elif e.kind == "last_affected" and b < v:
            vulnerable = False
    return vulnerable


def is_affected(version: str, affected: dict[str, Any]) -> bool:
    """Is `version` affected by one OSV `affected[]` entry (its package's ecosystem, its ranges
    and its explicit `versions`)?"""
    ecosystem = affected.get("package", {}).get("ecosystem", "")
    listed = affected.get("versions", ())
    if version in listed:
        return True
    if ecosystem == "Go" and version[:1] == "v" and version[1:] in listed:
        return True  # Go versions are stored without the "v" (OSV's Go convention); queries may carry it
    return any(in_range(version, ecosystem, r) for r in affected.get("ranges", ()))
