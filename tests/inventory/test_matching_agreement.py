"""Matching agrees with an independent, straightforward evaluation on every component of the
example SBOMs (../shared/data/cyclonedx-examples/SBOM, spdx-examples/software, every format the
intake reads), against the real Go, PyPI and crates.io advisories in ../shared/data.

The independent side is written here from the OSV schema's text, not from `vulns.ranges`: for
each component, every advisory entry of its (ecosystem, name) is scanned; a version is affected
when listed in `versions` (Go's "v" prefix dropped, as OSV writes Go versions) or when, walking
the range's events in version order with univers' own version classes, the last introduced is
not followed by a fixed at or below it, nor by a last_affected below it. The product's side is
`AdvisoryIndex.match_many` + `match`, as the SBOM job uses it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from univers import versions as uv

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.inventory.matching.engine import AdvisoryIndex
from clearinghouse.inventory.sboms.intake import read
from clearinghouse.inventory.sboms.normalise import normalise
from clearinghouse.vulns.records import normalise_name
from tests.conftest import shared_data_dir
from tests.support.world import World

pytestmark = pytest.mark.shared_data

VERSION_CLASS: dict[str, type[uv.Version]] = {
    "PyPI": uv.PypiVersion,
    "Go": uv.GolangVersion,
    "crates.io": uv.SemverVersion,
}
FEEDS = ("osv-go/osv-go.jsonl.gz", "osv-pypa/osv-pypa.jsonl.gz", "rustsec/osv-rustsec.jsonl.gz")


def _version(ecosystem: str, text: str) -> uv.Version:
    if ecosystem == "Go":
        text = text.removeprefix("v")
    return VERSION_CLASS[ecosystem](text)


def _in_range(ecosystem: str, version: uv.Version, events: list[dict[str, str]]) -> bool:
    affected = False
    keyed = []
    for event in events:
        ((kind, value),) = event.items()
        if kind == "limit":
            continue  # only "*" appears in these feeds
        bound = None if value == "0" else _version(ecosystem, value)
        keyed.append((bound, kind))
    keyed.sort(key=lambda kb: (kb[0] is not None, kb[0] or version))
    for bound, kind in keyed:
        if kind == "introduced" and (bound is None or bound <= version):
            affected = True
        elif kind == "fixed" and bound is not None and bound <= version:
            affected = False
        elif kind == "last_affected" and bound is not None and bound < version:
            affected = False
    return affected


def _independent(
    advisories: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]],
    ecosystem: str,
    name: str,
    version: str,
) -> set[str] | None:
    """The advisories affecting the component; None when univers cannot read its version."""
    try:
        parsed = _version(ecosystem, version)
    except Exception:
        return None
    hits = set()
    for vuln_id, entry in advisories.get((ecosystem, name), []):
        listed = {
            v.removeprefix("v") if ecosystem == "Go" else v for v in entry.get("versions", [])
        }
        if (version.removeprefix("v") if ecosystem == "Go" else version) in listed:
            hits.add(vuln_id)
            continue
        for r in entry.get("ranges", []):
            if r.get("type") in ("ECOSYSTEM", "SEMVER"):
                try:
                    if _in_range(ecosystem, parsed, r.get("events", [])):
                        hits.add(vuln_id)
                except (ValueError, TypeError, AttributeError):  # a bound univers cannot read
                    continue
    return hits


def _sboms(root: Path) -> list[Path]:
    cdx = root / "cyclonedx-examples" / "SBOM"
    spdx = root / "spdx-examples" / "software"
    files = [p for p in cdx.rglob("*") if p.suffix in {".json", ".xml"}]
    files += [p for p in spdx.rglob("*") if "spdx3" not in p.name and "spdx3.0" not in str(p)]
    return sorted(p for p in files if p.is_file() and p.suffix in {".json", ".xml", ".spdx"})


def test_matching_agrees_with_an_independent_evaluation_on_the_example_sboms(
    world: World,
) -> None:
    root = shared_data_dir()
    records: list[tuple[str, dict[str, Any]]] = []
    advisories: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    for feed in FEEDS:
        with gzip.open(root / feed, "rt") as f:
            for line in f:
                record = json.loads(line)
                records.append((record["id"], record))
                for entry in record.get("affected", []):
                    package = entry.get("package", {})
                    eco = package.get("ecosystem")
                    if eco in VERSION_CLASS:
                        key = (eco, normalise_name(eco, package.get("name", "")))
                        advisories.setdefault(key, []).append((record["id"], entry))
    index = AdvisoryIndex(records)
    components: set[tuple[str, str, str]] = set()
    read_files = 0
    for path in _sboms(root):
        try:
            parsed = read(path.read_bytes(), None, world.services.settings)
        except ClearinghouseError:
            continue  # the intake refuses it (tested in test_sboms.py); nothing to match
        read_files += 1
        for raw in parsed.components:
            n = normalise(raw)
            if n.ecosystem in VERSION_CLASS and n.name and n.version:
                components.add((n.ecosystem, n.name, n.version))
    assert read_files >= 15, read_files
    index.match_many(components)
    compared = hits = 0
    unreadable: list[tuple[str, str, str]] = []
    disagreements = []
    for ecosystem, name, version in sorted(components):
        expected = _independent(advisories, ecosystem, name, version)
        ours = {h.vuln_id for h in index.match(ecosystem, name, version)}
        if expected is None:
            unreadable.append((ecosystem, name, version))
            continue
        compared += 1
        hits += len(ours)
        if ours != expected:
            disagreements.append((ecosystem, name, version, sorted(ours ^ expected)))
    # Every component the example SBOMs name in these ecosystems is compared, and they do meet
    # real advisories (proton-bridge's Go modules).
    print(
        f"{read_files} SBOMs, {compared} components compared, {hits} hits, {len(unreadable)} unreadable"
    )
    assert compared >= 100 and hits >= 10, (compared, hits)
    assert not disagreements, disagreements[:10]
    # Versions univers cannot read (e.g. Go pseudo-versions it refuses) are listed, not hidden.
    assert len(unreadable) <= compared // 10, unreadable[:10]
