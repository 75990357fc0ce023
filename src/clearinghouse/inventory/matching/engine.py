"""The advisory index: OSV `affected[]` entries keyed by (ecosystem, normalised name), each
distinct (ecosystem, name, version) evaluated once (memoised) with the one OSV range evaluator,
`vulns.ranges` (`is_affected`, `in_range`, `version_key`). Nothing here re-implements range
semantics: the index only decides which entries to ask about, and remembers the answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.ranges import in_range, is_affected, version_key
from clearinghouse.vulns.records import normalise_name

PackageKey = tuple[str, str]  # (ecosystem, OSV-normalised name)


@dataclass(frozen=True)
class Hit:
    vuln_id: str
    fixed_in: str | None  # the first fixed version on the component's branch, if any


def fixed_on_branch(version: str, entry: dict[str, Any]) -> str | None:
    """The lowest `fixed` version above `version` in the ranges of `entry` that contain it
    (its branch): with several ranges (1.x fixed in 1.4.2, 2.x in 2.1.0) a 1.3 component is
    told 1.4.2. None when no containing range has a fix (last_affected, or listed only)."""
    ecosystem = entry.get("package", {}).get("ecosystem", "")
    best: tuple[Any, str] | None = None
    for range_ in entry.get("ranges", ()):
        rtype = range_.get("type")
        if rtype not in {"SEMVER", "ECOSYSTEM"} or not in_range(version, ecosystem, range_):
            continue
        key = version_key(ecosystem, rtype)
        mine = key(version)
        for event in range_.get("events", ()):
            fixed = event.get("fixed")
            if fixed is None:
                continue
            k = key(fixed)
            if mine < k and (best is None or k < best[0]):
                best = (k, fixed)
    return best[1] if best else None


class AdvisoryIndex:
    """Built from (vuln_id, OSV record) pairs; `match` answers which of them affect one
    package version, each distinct question evaluated once."""

    def __init__(self, records: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
        self._entries: dict[PackageKey, list[tuple[str, dict[str, Any]]]] = {}
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
        self._memo.clear()

    def packages(self) -> list[PackageKey]:
        return list(self._entries)

    def __contains__(self, key: PackageKey) -> bool:
        return key in self._entries

    def match(self, ecosystem: str, name: str, version: str) -> tuple[Hit, ...]:
        memo_key = (ecosystem, name, version)
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached
        entries = self._entries.get((ecosystem, name), ())
        hits: dict[str, Hit] = {}
        for vuln_id, entry in entries:
            try:
                if not is_affected(version, entry):
                    continue
                fixed = fixed_on_branch(version, entry)
            except InvalidInput:  # the evaluator refuses this version or range: no match
                self.errors += 1
                continue
            prior = hits.get(vuln_id)
            if prior is None or (prior.fixed_in is None and fixed is not None):
                hits[vuln_id] = Hit(vuln_id, fixed)
        self.evaluations += 1
        result = tuple(hits[v] for v in sorted(hits))
        self._memo[memo_key] = result
        return result
