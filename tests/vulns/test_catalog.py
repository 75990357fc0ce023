"""One CWE pattern (`catalog.CWE_PATTERN`), tested without a database: record parsing, the
report schema and the KEV converter accept exactly the same ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from clearinghouse.vulns.catalog import cwe_ids_of, is_cwe_id
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.kev import kev_entry
from clearinghouse.vulns.schemas import ReportCreate

CASES = [
    "CWE-79",
    "CWE-787",
    "CWE-999999",
    "CWE-1000000",
    "CWE-0",
    "CWE-079",
    "cwe-79",
    "CWE-",
    "CWE-79 ",
    " CWE-79",
    "CWE-7a",
    "CWE-٣",
    "CWE-79\n",
]


def report_claiming(cwe: str) -> bool:
    try:
        ReportCreate.model_validate(
            {
                "title": "t" * 5,
                "description": "d" * 20,
                "provenance": {"kind": "human"},
                "target": {"purl": "pkg:pypi/x@1"},
                "claimed_cwe": cwe,
            }
        )
    except ValidationError:
        return False
    return True


def kev_keeps(cwe: str) -> bool:
    entry = kev_entry({"cveID": "CVE-2024-0001", "dateAdded": "2024-01-01", "cwes": [cwe]})
    return entry["cwes"] == [cwe]


def record_keeps(cwe: str) -> bool:
    return cwe_ids_of({"database_specific": {"cwe_ids": [cwe]}}) == [cwe]


@pytest.mark.parametrize("cwe", CASES)
def test_every_reader_of_a_cwe_id_agrees(cwe: str) -> None:
    expected = is_cwe_id(cwe)
    assert report_claiming(cwe) is expected
    assert kev_keeps(cwe) is expected
    assert record_keeps(cwe) is expected


@given(st.from_regex(r"CWE-[0-9]{0,8}\n?", fullmatch=True) | st.text(max_size=12))
def test_the_readers_agree_on_anything(cwe: str) -> None:
    expected = is_cwe_id(cwe)
    assert record_keeps(cwe) is expected
    assert kev_keeps(cwe) is expected


def test_real_ids_pass_and_non_ids_do_not() -> None:
    assert is_cwe_id("CWE-79") and is_cwe_id("CWE-1426")
    assert not is_cwe_id("CWE-0") and not is_cwe_id("CWE-079") and not is_cwe_id(79)


def test_a_kev_entry_without_a_cve_id_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        kev_entry({"cveID": "nope", "dateAdded": "2024-01-01"})
