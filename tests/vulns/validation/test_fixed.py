"""The fixed source of a released package comes from the OSV record's ranges: the first fixed
release on the vulnerable version's own branch, in the ecosystem's version order."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.purls import parse_purl
from clearinghouse.vulns.validation.errors import RecipeInvalid
from clearinghouse.vulns.validation.fixed import first_fixed, fixed_purl
from tests.conftest import shared_data_dir


def _record(*affected: dict[str, Any]) -> Record:
    return Record.model_validate(
        {"id": "TEST-2026-1", "modified": "2026-01-01T00:00:00Z", "affected": list(affected)}
    )


def _pypi(name: str, *events: dict[str, str], versions: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "package": {"ecosystem": "PyPI", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": list(events)}],
    }
    if versions is not None:
        entry["versions"] = versions
    return entry


BRANCHES = _record(
    _pypi(
        "Bottle",
        {"introduced": "0.8"},
        {"fixed": "0.10.12"},
        {"introduced": "0.11"},
        {"fixed": "0.11.7"},
        {"introduced": "0.12"},
        {"fixed": "0.12.6"},
    )
)


@pytest.mark.parametrize(
    ("version", "fixed"),
    [("0.10.5", "0.10.12"), ("0.11.3", "0.11.7"), ("0.12", "0.12.6"), ("0.12.5", "0.12.6")],
)
def test_the_first_fixed_release_on_the_same_branch(version: str, fixed: str) -> None:
    assert first_fixed(BRANCHES, "PyPI", "bottle", version).version == fixed


@pytest.mark.parametrize("version", ["0.7", "0.10.12", "0.11.7", "0.13.0"])
def test_an_unaffected_version_gets_no_fixed_release(version: str) -> None:
    found = first_fixed(BRANCHES, "PyPI", "bottle", version)
    assert found.version is None and "does not list" in found.reason


def test_versions_are_ordered_by_pep_440_not_as_text() -> None:
    record = _record(_pypi("pkg", {"introduced": "0"}, {"fixed": "1.10"}, {"fixed": "1.9"}))
    # As text "1.10" < "1.9"; in PEP 440 1.9 is first. Two fixed events: the lower one ends it.
    assert first_fixed(record, "PyPI", "pkg", "1.2").version == "1.9"


def test_only_last_affected_names_no_fixed_release() -> None:
    record = _record(_pypi("py", {"introduced": "0"}, {"last_affected": "1.11.0"}))
    found = first_fixed(record, "PyPI", "py", "1.10.0")
    assert found.version is None and "no fixed release" in found.reason


def test_another_package_or_ecosystem_gets_nothing() -> None:
    record = _record(_pypi("pyyaml", {"introduced": "0"}, {"fixed": "5.1"}))
    assert first_fixed(record, "PyPI", "ruamel-yaml", "3.13").version is None
    assert first_fixed(record, "npm", "pyyaml", "3.13").version is None
    assert first_fixed(record, "PyPI", "PyYAML", "3.13").version == "5.1"  # names are normalised


def test_the_lowest_fix_across_entries_that_affect_the_version() -> None:
    record = _record(
        _pypi("pkg", {"introduced": "0"}, {"fixed": "3.0"}),
        _pypi("pkg", {"introduced": "2.0"}, {"fixed": "2.4"}),
    )
    assert first_fixed(record, "PyPI", "pkg", "2.1").version == "2.4"
    assert first_fixed(record, "PyPI", "pkg", "1.5").version == "3.0"


def test_a_purl_gets_the_fixed_purl() -> None:
    record = _record(_pypi("PyJWT", {"introduced": "0"}, {"fixed": "1.5.1"}))
    purl, why = fixed_purl(record, parse_purl("pkg:pypi/pyjwt@1.5.0"))
    assert purl == "pkg:pypi/pyjwt@1.5.1" and "1.5.0" in why


def test_ranges_that_cannot_be_evaluated_are_a_typed_error() -> None:
    record = _record(_pypi("pkg", {"introduced": "0"}, {"fixed": "not a version!"}))
    with pytest.raises(RecipeInvalid) as caught:
        first_fixed(record, "PyPI", "pkg", "1.0")
    assert caught.value.code == "osv_record_invalid"


@pytest.mark.shared_data
def test_real_records_of_the_pypa_database() -> None:
    """PYSEC-2014-77 (bottle, three branches) and the examples' records, from the shared data."""
    wanted = {"PYSEC-2014-77", "PYSEC-2017-24", "PYSEC-2018-49", "PYSEC-2022-42969"}
    records = {}
    with gzip.open(shared_data_dir() / "osv-pypa" / "osv-pypa.jsonl.gz", "rt") as fh:
        for line in fh:
            data = json.loads(line)
            if data["id"] in wanted:
                records[data["id"]] = Record.model_validate(data)
    assert first_fixed(records["PYSEC-2014-77"], "PyPI", "bottle", "0.11.6").version == "0.11.7"
    assert first_fixed(records["PYSEC-2017-24"], "PyPI", "pyjwt", "1.5.0").version == "1.5.1"
    assert first_fixed(records["PYSEC-2018-49"], "PyPI", "pyyaml", "3.13").version == "5.1"
    # py: only last_affected, no fixed release exists.
    assert first_fixed(records["PYSEC-2022-42969"], "PyPI", "py", "1.10.0").version is None
