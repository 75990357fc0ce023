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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
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
_RANGE_TYPES = ("SEMVER", "ECOSYSTEM")


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
        if self.rank != other.rank or self.rank != 1:  # two "0"s (or "*"s) are equal
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
    # every bound is parsed before any is compared: a malformed range is refused whatever the
    # version (the batch form, `affected_among`, relies on it)
    limits = [_bound(ecosystem, rtype, e) for e in events if e.kind == "limit"]
    ordered = sorted(
        (e for e in events if e.kind != "limit"), key=lambda e: _bound(ecosystem, rtype, e)
    )
    if limits and not any(v < lim for lim in limits):
        return False
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


def fixed_on_branch(version: str, entry: dict[str, Any]) -> str | None:
    """The lowest `fixed` version above `version` in the ranges of `entry` that contain it
    (its branch): with several ranges (1.x fixed in 1.4.2, 2.x in 2.1.0) a 1.3 component is
    told 1.4.2. None when no containing range has a fix (last_affected, or listed only). A
    range the evaluator refuses for this version (a bound or the version itself unparseable)
    is no branch of it: a version listed in `versions` but unparseable is affected, fix unknown.
    """
    ecosystem = entry.get("package", {}).get("ecosystem", "")
    best: tuple[Key, str] | None = None
    for range_ in entry.get("ranges", ()):
        rtype = range_.get("type")
        try:
            if rtype not in _RANGE_TYPES or not in_range(version, ecosystem, range_):
                continue
        except InvalidInput:
            continue
        mine = _key(ecosystem, rtype, version)
        for event in range_.get("events", ()):
            fixed = event.get("fixed")
            if fixed is None:
                continue
            k = _key(ecosystem, rtype, fixed)
            try:
                if mine < k and (best is None or k < best[0]):
                    best = (k, fixed)
            except (TypeError, ValueError):  # orderings that do not compare: keep the first
                continue
    return best[1] if best else None


# --- The batch form: many versions of one package against compiled entries ------------------
#
# The same event semantics as `in_range`/`is_affected` (which stay the reference; a property
# test holds the two together), evaluated for all the distinct versions of a package at once:
# the versions are parsed once and sorted once, and each range costs one bisection per event
# (O(events x log versions)) plus its hits, instead of one walk per version.
#
# Native keys: the batch sorts and bisects plain tuples where the ordering can be written
# exactly as one, which makes Python's C-level tuple comparison do the work:
# - PyPI (PEP 440): built from `packaging`'s public fields, as its own `_cmpkey` orders them;
# - SemVer ordering (Go, crates.io, npm, Hex, Pub and every SEMVER range): univers'
#   `SemverVersion` (semantic_version's lenient `coerce`) turned into its precedence key.
# Every other ecosystem (Maven, NuGet, RubyGems, Debian, Ubuntu, Alpine, Packagist) falls back
# to the univers object itself, wrapped in `_Bound` so that a comparison univers cannot make is
# an `InvalidVersion`, exactly as `in_range` reports it.


def _pep440_native(v: PepVersion) -> tuple[Any, ...]:
    release = list(v.release)
    while release and release[-1] == 0:  # 1.0.0 == 1
        release.pop()
    if v.pre is None and v.post is None and v.dev is not None:
        pre: tuple[Any, ...] = (0,)  # a dev-only release sorts before every pre-release
    elif v.pre is None:
        pre = (2,)
    else:
        pre = (1, *v.pre)  # ("a" | "b" | "rc", n): the letters order as strings
    post = (0,) if v.post is None else (1, v.post)
    dev = (2,) if v.dev is None else (1, v.dev)
    local: tuple[Any, ...] = (0,)
    if v.local is not None:  # strings before numbers, numbers numerically
        parts = v.local.split(".")
        local = (1, tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts))
    return (v.epoch, tuple(release), pre, post, dev, local)


def _semver_native(v: uv.SemverVersion) -> tuple[Any, ...]:
    # semantic_version compares (major, minor, patch, prerelease) with numeric identifiers
    # below alphanumeric ones (compared as ASCII bytes) and a release above its pre-releases;
    # the build is ignored by `<`, so it is left out here too.
    value = v.value
    pre: tuple[tuple[Any, ...], ...]
    if value.prerelease:
        pre = tuple(
            (0, int(p)) if p.isdigit() else (1, p.encode("ascii")) for p in value.prerelease
        )
    else:
        pre = ((2,),)
    return (value.major, value.minor, value.patch, pre)


@functools.lru_cache(maxsize=1 << 18)
def native_key(ecosystem: str, range_type: str, version: str) -> Key:
    """The sort key of `version` for the batch form: a plain tuple ordered exactly as the
    evaluator's key object where one is written (see above), else the object in a `_Bound`.
    Raises `InvalidVersion` where `in_range` would."""
    key = _key(ecosystem, range_type, version)
    if isinstance(key, PepVersion):
        return _pep440_native(key)
    if type(key) is uv.SemverVersion:
        return _semver_native(key)
    return _Bound(1, key)


@dataclass(frozen=True)
class CompiledRange:
    """One SEMVER/ECOSYSTEM range, its bounds parsed once: its non-limit events in `in_range`'s
    order (a stable sort by bound, introduced "0" first) and its highest limit."""

    position: int  # its index in the entry's `ranges`
    range_type: str
    events: tuple[tuple[str, Key, str], ...]  # (kind, native key or None for "0", version)
    limit: Key  # None: no limit; _INF: "*"; else the highest limit's native key


def compile_range(
    ecosystem: str, range_: dict[str, Any], position: int = 0
) -> CompiledRange | None:
    """`range_` parsed once; None for a GIT range (never in range, as in `in_range`). Raises
    `InvalidInput` where `in_range` raises whatever the version."""
    rtype = range_.get("type")
    if rtype == "GIT":
        return None
    if rtype not in _RANGE_TYPES:
        raise InvalidInput(f"unknown range type {rtype!r}", code="range_invalid")
    events = _parse_events(range_.get("events", []))
    if not any(e.kind == "introduced" for e in events):
        raise InvalidInput("a range needs at least one introduced event", code="range_invalid")
    limit: Key = None
    for e in events:
        if e.kind == "limit":
            # Every limit is parsed, as `in_range` parses them, even after a "*": a malformed
            # one refuses the range whatever the order.
            k = _INF if e.version == _INF else native_key(ecosystem, rtype, e.version)
            if limit is not _INF:
                limit = k if limit is None or k is _INF or limit < k else limit
    zeros, keyed = [], []
    for e in events:
        if e.kind == "introduced" and e.version == _ZERO:
            zeros.append((e.kind, None, e.version))
        elif e.kind != "limit":
            keyed.append((e.kind, native_key(ecosystem, rtype, e.version), e.version))
    keyed.sort(key=lambda t: t[1])  # stable, as `in_range`'s sort
    return CompiledRange(position, rtype, (*zeros, *keyed), limit)


@dataclass(frozen=True)
class CompiledEntry:
    """One OSV `affected[]` entry compiled for the batch form: its evaluable ranges in order,
    and the position of the first one `in_range` refuses (`is_affected` raises for a version
    that neither `versions` nor an earlier range settles)."""

    ecosystem: str
    listed: frozenset[str]
    ranges: tuple[CompiledRange, ...]
    broken_at: int | None


def compile_entry(affected: dict[str, Any]) -> CompiledEntry:
    ecosystem = affected.get("package", {}).get("ecosystem", "")
    compiled: list[CompiledRange] = []
    broken_at = None
    for position, range_ in enumerate(affected.get("ranges", ())):
        try:
            c = compile_range(ecosystem, range_, position)
        except InvalidInput:
            broken_at = position if broken_at is None else broken_at
            continue
        if c is not None:
            compiled.append(c)
    listed = frozenset(affected.get("versions", ()))
    return CompiledEntry(ecosystem, listed, tuple(compiled), broken_at)


class VersionSet:
    """The distinct versions of one package, each parsed once and sorted once per range type."""

    def __init__(self, ecosystem: str, versions: Iterable[str]) -> None:
        self.ecosystem = ecosystem
        self.versions = list(dict.fromkeys(versions))
        self.index = {v: i for i, v in enumerate(self.versions)}
        self._sorted: dict[str, tuple[list[Key], list[int], list[int]]] = {}

    def sorted(self, range_type: str) -> tuple[list[Key], list[int], list[int]]:
        """(the sorted keys, the index in `versions` of each, the indices that do not parse).
        Raises `InvalidVersion` when univers cannot compare two of them."""
        found = self._sorted.get(range_type)
        if found is None:
            keyed, bad = [], []
            for i, v in enumerate(self.versions):
                try:
                    keyed.append((native_key(self.ecosystem, range_type, v), i))
                except InvalidInput:
                    bad.append(i)
            keyed.sort(key=lambda ki: ki[0])
            found = ([k for k, _ in keyed], [i for _, i in keyed], bad)
            self._sorted[range_type] = found
        return found


def _spans(range_: CompiledRange, keys: list[Key]) -> Iterator[tuple[int, int, str | None]]:
    """(start, stop, fixed_in): the sorted positions [start, stop) of `keys` that are in the
    range, split so that each part has one lowest `fixed` event above it (None: no fix above)."""
    m = len(keys)
    end = m if range_.limit is None or range_.limit is _INF else bisect_left(keys, range_.limit)
    # The state at a position is set by the last event (in sorted order) that applies there:
    # introduced and fixed from the first key >= their bound, last_affected from the first key >.
    starts: list[tuple[int, int]] = []
    fixes: list[tuple[int, str]] = []  # (first position not below the fix, fixed version)
    for j, (kind, key, version) in enumerate(range_.events):
        s = (
            0
            if key is None
            else (bisect_right if kind == "last_affected" else bisect_left)(keys, key)
        )
        starts.append((s, j))
        if kind == "fixed":
            fixes.append((s, version))  # in sorted order, so their positions never decrease
    starts.sort()
    winner = -1
    for n, (s, j) in enumerate(starts):
        winner = max(winner, j)
        stop = min(starts[n + 1][0] if n + 1 < len(starts) else m, end)
        if s >= stop or range_.events[winner][0] != "introduced":
            continue
        # a position p is fixed by the first fix (in sorted order) whose bound is above it
        at = s
        for q, version in fixes:
            if q <= at:
                continue
            yield at, min(q, stop), version
            at = q
            if at >= stop:
                break
        if at < stop:
            yield at, stop, None


def _lower_fix(ecosystem: str, best: tuple[str, str], other: tuple[str, str]) -> bool:
    """Is the fix `other` (range type, version) below `best`, as `fixed_on_branch` decides?"""
    try:
        return bool(_key(ecosystem, other[0], other[1]) < _key(ecosystem, best[0], best[1]))
    except (TypeError, ValueError, InvalidInput):  # orderings that do not compare: keep the first
        return False


def affected_among(versions: VersionSet, entry: CompiledEntry) -> tuple[dict[int, str | None], int]:
    """`is_affected` and the fix on each version's branch, for every version of `versions` at
    once: ({index in versions.versions: fixed_in} of the affected ones, how many versions the
    reference evaluator would refuse). Raises `InvalidVersion` when univers cannot compare."""
    settled: dict[int, bool] = {}  # True: affected; False: the evaluator refuses it
    fixes: dict[int, tuple[str, str]] = {}
    for range_ in entry.ranges:
        keys, order, bad = versions.sorted(range_.range_type)
        decisive = entry.broken_at is None or range_.position < entry.broken_at
        if decisive:
            for i in bad:
                settled.setdefault(i, False)
        for start, stop, fixed in _spans(range_, keys):
            for p in range(start, stop):
                i = order[p]
                if decisive:
                    settled.setdefault(i, True)
                if fixed is not None:
                    mine = (range_.range_type, fixed)
                    best = fixes.get(i)
                    if best is None or _lower_fix(entry.ecosystem, best, mine):
                        fixes[i] = mine
    listed, index = entry.listed, versions.index
    if len(listed) < len(index):
        go = entry.ecosystem == "Go"
        for v in listed:
            for w in (v, "v" + v) if go else (v,):  # Go queries may carry the "v"
                at = index.get(w)
                if at is not None:
                    settled[at] = True
    elif listed:
        go = entry.ecosystem == "Go"
        for v, i in index.items():
            if v in listed or (go and v[:1] == "v" and v[1:] in listed):
                settled[i] = True
    if entry.broken_at is not None:
        for i in range(len(versions.versions)):
            settled.setdefault(i, False)
    hits = {i: (fixes[i][1] if i in fixes else None) for i, ok in settled.items() if ok}
    return hits, sum(1 for ok in settled.values() if not ok)
