"""The vulns errors belong to the one hierarchy (`core.errors`), with stable codes: an API or
CLI caller gets a problem with a code, never a bare ValueError."""

from __future__ import annotations

import pytest

from clearinghouse.core.errors import ClearinghouseError, InvalidInput
from clearinghouse.vulns.errors import FormatError, HostileFile, QueryError
from clearinghouse.vulns.intake.csaf import validate_csaf
from clearinghouse.vulns.intake.cve5 import validate_cve5
from clearinghouse.vulns.public.queries import resolve_query


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (FormatError, "format_invalid", 422),
        (QueryError, "query_invalid", 400),
        (HostileFile, "file_refused", 422),
    ],
)
def test_each_error_is_invalid_input_with_its_code(
    error: type[InvalidInput], code: str, status: int
) -> None:
    assert issubclass(error, ClearinghouseError) and issubclass(error, InvalidInput)
    assert not issubclass(error, ValueError)
    exc = error("why")
    assert (exc.code, exc.status, exc.detail) == (code, status, "why")


def test_a_hostile_advisory_raises_a_format_error_that_says_why() -> None:
    with pytest.raises(FormatError) as caught:
        validate_csaf({"document": {"csaf_version": "9.9"}})
    assert "csaf_version must be 2.0 or 2.1" in caught.value.detail
    with pytest.raises(FormatError) as caught:
        validate_cve5({"dataType": "CVE_RECORD"})
    assert caught.value.detail.startswith("invalid CVE JSON 5")


def test_a_malformed_osv_query_is_a_query_error() -> None:
    with pytest.raises(QueryError) as caught:
        resolve_query({"package": {"name": "x"}, "commit": 5})
    assert caught.value.status == 400
