"""CVSS 3.x and 4.0 scoring, checked against every such vector in the shared test set."""

from __future__ import annotations

import json

import pytest

from clearinghouse.vulns.scoring import InvalidVector, score
from tests.conftest import shared_data_dir


def test_known_scores() -> None:
    s = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert (s.version, s.base_score, s.severity) == ("3.1", 9.8, "Critical")
    s4 = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
    assert (s4.version, s4.base_score, s4.severity) == ("4.0", 9.3, "Critical")


@pytest.mark.parametrize(
    "bad", ["", "AV:N/AC:L", "CVSS:3.1/AV:X/AC:L", "CVSS:4.0/AV:N", "CVSS:2.0/AV:N"]
)
def test_bad_vectors_are_rejected_with_a_code(bad: str) -> None:
    with pytest.raises(InvalidVector) as info:
        score(bad)
    assert info.value.code == "cvss_invalid"


@pytest.mark.shared_data
def test_every_v3_and_v4_vector_in_the_shared_set() -> None:
    checked = 0
    with (shared_data_dir() / "cvss-test-vectors" / "cvss_vectors.jsonl").open() as fh:
        for line in fh:
            case = json.loads(line)
            if case["cvss_version"] not in ("3.0", "3.1", "4.0"):
                continue
            vector = (
                case["vector"]
                if case["vector"].startswith("CVSS:")
                else f"CVSS:{case['cvss_version']}/{case['vector']}"
            )
            expected = case.get("base_score", case.get("score"))
            assert score(vector).base_score == pytest.approx(expected), vector
            checked += 1
    assert checked == 6909  # 2,592 + 2,592 + 31 (v3.0/3.1) and 1,694 (v4.0), all there are
