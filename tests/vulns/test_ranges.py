"""The OSV range evaluator: the schema's evaluation rules, per-ecosystem ordering, properties,
and agreement with the `versions` lists OSV.dev back-filled in real advisories."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.ranges import InvalidVersion, in_range, is_affected, version_key
from tests.conftest import shared_data_dir


def entry(
    ecosystem: str,
    *events: dict[str, str],
    versions: list[str] | None = None,
    kind: str = "ECOSYSTEM",
):
    return {
        "package": {"ecosystem": ecosystem, "name": "x"},
        "ranges": [{"type": kind, "events": list(events)}],
        "versions": versions or [],
    }


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.9", False),
        ("1.0", True),
        ("1.4.9", True),
        ("1.5", False),
        ("1.9", False),
        ("2.0", True),
        ("2.2.1", True),
        ("2.3", False),
        ("3.0", False),
        ("1.5rc1", True),  # PEP 440: 1.5rc1 < 1.5
    ],
)
def test_two_windows_pypi(version: str, expected: bool) -> None:
    e = entry(
        "PyPI", {"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}
    )
    assert is_affected(version, e) is expected


def test_introduced_zero_last_affected_and_limit() -> None:
    assert is_affected("0.0.1", entry("PyPI", {"introduced": "0"}, {"fixed": "1.0"}))
    la = entry("npm", {"introduced": "1.0.0"}, {"last_affected": "1.4.2"})
    assert is_affected("1.4.2", la) and not is_affected("1.4.3", la)
    limited = entry("Go", {"introduced": "0"}, {"limit": "v1.2.0"}, kind="SEMVER")
    assert is_affected("v1.1.9", limited) and not is_affected("v1.2.0", limited)
    open_ended = entry("crates.io", {"introduced": "0.3.0"})
    assert is_affected("99.0.0", open_ended) and not is_affected("0.2.9", open_ended)


def test_explicit_versions_and_git_ranges() -> None:
    git = {
        "package": {"ecosystem": "PyPI", "name": "x"},
        "ranges": [
            {"type": "GIT", "repo": "https://example.org/x", "events": [{"introduced": "abc"}]}
        ],
        "versions": ["1.2", "1.3"],
    }
    assert is_affected("1.3", git) and not is_affected("1.4", git)


def test_semver_prerelease_and_build_metadata() -> None:
    e = entry("npm", {"introduced": "1.0.0"}, {"fixed": "2.0.0"})
    assert is_affected("2.0.0-rc.1", e)  # pre-releases sort before the release
    assert not is_affected("2.0.0", e)


def test_maven_ordering_through_univers() -> None:
    e = entry("Maven", {"introduced": "2.0"}, {"fixed": "2.10.1"})
    assert is_affected("2.9", e) and not is_affected("2.10.1", e) and is_affected("2.10", e)


def test_bad_input_is_rejected_with_codes() -> None:
    with pytest.raises(InvalidVersion):
        is_affected("not a version!", entry("PyPI", {"introduced": "1.0"}))
    with pytest.raises(InvalidInput) as info:
        in_range("1.0", "PyPI", {"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}]})
    assert info.value.code == "range_invalid"
    with pytest.raises(InvalidInput) as info:
        version_key("NoSuchEcosystem")
    assert info.value.code == "ecosystem_unsupported"
    with pytest.raises(InvalidInput):
        in_range(
            "1.0", "pypi", {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}
        )  # case-sensitive


versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)).map(
    lambda t: "{}.{}.{}".format(*t)
)


@given(st.lists(versions, min_size=2, max_size=8, unique=True), versions)
def test_matches_an_interval_oracle(bounds: list[str], probe: str) -> None:
    """Alternate introduced/fixed over sorted bounds; affected iff inside some [intro, fix)."""
    ordered = sorted(bounds, key=Version)
    events = [{"introduced" if i % 2 == 0 else "fixed": b} for i, b in enumerate(ordered)]
    pairs = [
        (ordered[i], ordered[i + 1] if i + 1 < len(ordered) else None)
        for i in range(0, len(ordered), 2)
    ]
    expected = any(
        Version(lo) <= Version(probe) and (hi is None or Version(probe) < Version(hi))
        for lo, hi in pairs
    )
    for ecosystem in ("PyPI", "crates.io"):
        assert is_affected(probe, entry(ecosystem, *events)) is expected
    shuffled = list(reversed(events))  # event order in the record does not matter
    assert is_affected(probe, entry("PyPI", *shuffled)) is expected


@given(versions, versions, versions)
def test_semver_key_is_a_total_order_consistent_with_pep440(a: str, b: str, c: str) -> None:
    key = version_key("crates.io")
    ka, kb, kc = key(a), key(b), key(c)
    assert (ka < kb) == (Version(a) < Version(b))
    if ka < kb and kb < kc:
        assert ka < kc


def _overlapping(ranges: list[dict]) -> bool:
    """Two introduced events in a row, in version order: the range breaks the schema's rule
    that a range's intervals do not overlap."""
    for r in ranges:
        ordered = sorted(r["events"], key=lambda e: Version(next(iter(e.values()))))
        kinds = [next(iter(e)) for e in ordered]
        if any(a == b == "introduced" for a, b in itertools.pairwise(kinds)):
            return True
    return False


@pytest.mark.shared_data
def test_agrees_with_backfilled_versions_in_real_pypi_advisories() -> None:
    """OSV.dev enumerates `versions` from the ranges; evaluating the ECOSYSTEM ranges alone must
    call each of them affected, except in records that contradict themselves: ranges that
    overlap (which the schema forbids), or a `versions` list naming versions at or past the range's own fix
    (PYSEC-2023-177 lists 23.9.0 and later, past its own fix at 23.9.0), or pre-releases of an
    introduced release, which OSV.dev counts and PEP 440 orders before it (PYSEC-2023-61: 3.2a1). With the
    `versions` list, as `is_affected` uses it, every listed version is affected."""
    checked, mismatched = 0, set()
    with gzip.open(shared_data_dir() / "osv-pypa" / "osv-pypa.jsonl.gz", "rt") as fh:
        for line in fh:
            record = json.loads(line)
            for aff in record.get("affected", []):
                ranges = [r for r in aff.get("ranges", []) if r["type"] == "ECOSYSTEM"]
                if not ranges:
                    continue
                for v in aff.get("versions", []):
                    try:
                        Version(v)
                    except ValueError:
                        continue  # legacy, non-PEP 440 release names
                    checked += 1
                    assert is_affected(v, aff)
                    if not is_affected(v, {"package": aff["package"], "ranges": ranges}):
                        fixes = [
                            Version(e["fixed"]) for r in ranges for e in r["events"] if "fixed" in e
                        ]
                        past_fix = any(Version(v) >= f for f in fixes)
                        intros = [
                            Version(e["introduced"])
                            for r in ranges
                            for e in r["events"]
                            if "introduced" in e
                        ]
                        # OSV.dev counts pre-releases of an introduced release (3.2a1 for
                        # introduced 3.2) as affected; PEP 440 orders them before it.
                        pre_of_intro = Version(v).is_prerelease and any(
                            Version(v).release == i.release for i in intros
                        )
                        assert _overlapping(ranges) or past_fix or pre_of_intro, (record["id"], v)
                        mismatched.add(record["id"])
    assert checked > 100_000
    assert len(mismatched) <= 3, sorted(mismatched)
