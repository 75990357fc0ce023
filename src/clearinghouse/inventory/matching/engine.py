"""The advisory index: OSV `affected[]` entries keyed by (ecosystem, normalised name), each
distinct (ecosystem, name, version) evaluated once (memoised) with the one OSV range evaluator,
`vulns.ranges`. Nothing here re-implements range semantics: the index only decides which
entries to ask about, and remembers the answers.

Two ways in, with the same answers (a property test holds them together):
- `match(ecosystem, name, version)`: one lookup, through the reference `is_affected` /
  `fixed_on_branch`;
- `match_many(components)`: a whole SBOM (or a million rows) at once, per package: its
  distinct versions parsed and sorted once, each entry's ranges compiled once (`vulns.ranges`'
  batch form, `affected_among`) and swept with one bisection per event. Afterwards `match` is
  a dictionary lookup for every component given."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.ranges import (
    CompiledEntry,
    VersionSet,
    affected_among,
    compile_entry,
    fixed_on_branch,
    is_affected,
)
from clearinghouse.vulns.records import normalise_name

__all__ = ["AdvisoryIndex", "Hit", "PackageKey", "fixed_on_branch"]

PackageKey = tuple[str, str]  # (ecosystem, OSV-normalised name)


@dataclass(frozen=True)
class Hit:
    vuln_id: str
    fixed_in: str | None  # the first fixed version on the component's branch, if any


def _merge(hits: dict[str, Hit], vuln_id: str, fixed: str | None) -> None:
    """One hit per advisory: the first of its entries that gives a fix wins."""
    prior = hits.get(vuln_id)
    if prior is None or (prior.fixed_in is None and fixed is not None):
        hits[vuln_id] = Hit(vuln_id, fixed)


class AdvisoryIndex:
    """Built from (vuln_id, OSV record) pairs; `match` answers which of them affect one
    package version, each distinct question evaluated once; `match_many` answers many at once."""

    def __init__(self, records: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
        self._entries: dict[PackageKey, list[tuple[str, dict[str, Any]]]] = {}
        self._compiled: dict[PackageKey, list[tuple[str, CompiledEntry]]] = {}
        self._memo: dict[tuple[str, str, str], tuple[Hit, ...]] = {}
        self.evaluations = 0  # distinct (ecosystem, name, version) evaluated
        self.errors = 0  # entries the evaluator refused (a malformed range or version)
        for vuln_id, record in records:
            self.add(vuln_id, record)

    def add(self, vuln_id: str, record: dict[str, Any]) -> None:
        for entry in record.get("affected", ()):
            package = entry.get("package")
            if not package or "ecosystem" not in package or "name" not in package:
                continue
            key = (package["ecosystem"], normalise_name(package["ecosystem"], package["name"]))
            self._entries.setdefault(key, []).append((vuln_id, entry))
            # compiled up front (its bounds parsed once), as the expert's index parses them
            self._compiled.setdefault(key, []).append((vuln_id, compile_entry(entry)))
        self._memo.clear()

    def packages(self) -> list[PackageKey]:
        return list(self._entries)

    def __contains__(self, key: PackageKey) -> bool:
        return key in self._entries

    def match(self, ecosystem: str, name: str, version: str) -> tuple[Hit, ...]:
        try:
            return self._memo[(ecosystem, name, version)]
        except KeyError:
            pass
        entries = self._entries.get((ecosystem, name), ())
        hits: dict[str, Hit] = {}
        for vuln_id, entry in entries:
            try:
                if not is_affected(version, entry):
                    continue
            except InvalidInput:  # the evaluator refuses this version or range: no match
                self.errors += 1
                continue
            _merge(hits, vuln_id, fixed_on_branch(version, entry))
        self.evaluations += 1
        result = tuple(hits[v] for v in sorted(hits))
        self._memo[(ecosystem, name, version)] = result
        return result

    def match_versions(self, ecosystem: str, name: str, versions: Iterable[str]) -> None:
        """Evaluate the versions of one package at once and remember the answers."""
        memo = self._memo
        todo = [v for v in dict.fromkeys(versions) if (ecosystem, name, v) not in memo]
        if todo:
            self._sweep(ecosystem, name, todo)

    def _sweep(self, ecosystem: str, name: str, todo: list[str]) -> None:
        """`todo`: distinct versions not yet in the memo."""
        memo = self._memo
        compiled = self._compiled.get((ecosystem, name))
        if compiled is None:
            for v in todo:
                memo[(ecosystem, name, v)] = ()
            return
        version_set = VersionSet(ecosystem, todo)
        per_version: list[dict[str, Hit]] = [{} for _ in todo]
        refused = 0
        try:
            for vuln_id, entry in compiled:
                found, errors = affected_among(version_set, entry)
                refused += errors
                for i, fixed in found.items():
                    hits = per_version[i]
                    prior = hits.get(vuln_id)
                    if prior is None or (prior.fixed_in is None and fixed is not None):
                        hits[vuln_id] = Hit(vuln_id, fixed)  # as _merge: the first fix wins
        except InvalidInput:  # univers cannot order two of these versions: one at a time
            for v in todo:
                self.match(ecosystem, name, v)
            return
        self.errors += refused
        self.evaluations += len(todo)
        for v, hits in zip(version_set.versions, per_version, strict=True):
            memo[(ecosystem, name, v)] = (
                tuple(hits[x] for x in sorted(hits)) if len(hits) > 1 else tuple(hits.values())
            )

    def match_many(self, components: Iterable[tuple[str, str, str]]) -> None:
        """Evaluate every (ecosystem, name, version) of `components` ahead of `match`, grouped
        by package: each distinct version parsed once, each range swept once per package."""
        # The sweep allocates hundreds of thousands of small containers and frees none, which
        # would set off a full garbage collection over the whole heap (the caller's million
        # components included) again and again: collection waits until the batch is done.
        paused = gc.isenabled()
        gc.disable()
        try:
            by_package: dict[PackageKey, list[str]] = {}
            memo = self._memo
            for component in dict.fromkeys(components):  # distinct first (hashing at C speed)
                if component not in memo:
                    ecosystem, name, version = component
                    by_package.setdefault((ecosystem, name), []).append(version)
            for (ecosystem, name), versions in by_package.items():
                self._sweep(ecosystem, name, versions)
        finally:
            if paused:
                gc.enable()
