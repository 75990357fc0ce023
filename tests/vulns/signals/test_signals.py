"""The signals of one report: each with its evidence, and unknown when not measured.

The adversaries: a forged sanitizer report (it "reproduces" on the fixed build too, and names
frames the source does not have), a fix that is only a patch (not a release: "already fixed"
stays unknown), a validation that could not tell (never "not reproduced"), and no data at all
(nothing is guessed). Two tests validate real recipes in the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from clearinghouse.vulns.signals.grounding import GroundingVerdict
from clearinghouse.vulns.signals.reproduction import Reproduction
from clearinghouse.vulns.signals.signals import DuplicateCandidate, ReportFacts, compute_signals
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.signals.ssvc import PointSource, SsvcFacts
from clearinghouse.vulns.validation.runner import Validator
from clearinghouse.vulns.validation.schemas import (
    FixedVerdict,
    SourceRef,
    ValidationResult,
    Verdict,
)
from tests.support.needs import needs_bwrap, needs_gcc
from tests.vulns.validation.conftest import DATA, EXAMPLES, LOOPBACK

HEAP = EXAMPLES / "c-heap-overflow"
GENUINE = ReportFacts(
    id="r-genuine",
    title="Off-by-one heap overflow in store_field()",
    text="store_field() (records.c:21) writes the NUL one past the 16-byte name buffer; "
    "reached from parse_records().",
    has_poc=True,
    reporter="model-a",
)


@pytest.fixture(scope="module")
def heap_index() -> SourceIndex:
    return SourceIndex.build(HEAP / "vulnerable")


def result(
    verdict: Verdict,
    fixed: FixedVerdict = FixedVerdict.not_run,
    *,
    signature: str | None = "heap-buffer-overflow@store_field|parse_records|main",
    fixed_kind: str | None = "directory",
    derived_from: str | None = None,
) -> ValidationResult:
    source = None
    if fixed_kind is not None:
        source = SourceRef(
            kind=fixed_kind,  # type: ignore[arg-type]
            ref="fixed" if fixed_kind == "directory" else "pkg:pypi/demo@1.1",
            sha256="0" * 64,
            tree_sha256="0" * 64,
            derived_from=derived_from,
        )
    return ValidationResult(
        verdict=verdict,
        fixed_verdict=fixed,
        signature=signature if verdict is Verdict.reproduced else None,
        crash_type="heap-buffer-overflow" if verdict is Verdict.reproduced else None,
        expect="asan",
        fixed_source=source,
        error_code="sandbox_broken" if verdict is Verdict.error else None,
    )


def test_nothing_measured_is_unknown_not_guessed() -> None:
    s = compute_signals(ReportFacts(id="r1", text="store_field() overflows"))
    assert not s.grounded.known and s.grounded.value is None
    assert s.has_poc.known and s.has_poc.value is False
    assert not s.reproduced.known and s.reproduced.state is Reproduction.not_run
    assert not s.already_fixed.known and s.already_fixed.value is None
    assert not s.duplicate_of.known and s.duplicate_of.evidence == ["not checked"]
    assert not s.track_record.known and s.track_record.value is None
    rc = next(p for p in s.ssvc.points if p.id == "ssvc:RC:1.0.0")
    assert rc.source is PointSource.assumed


def test_a_reproduced_genuine_report_with_a_patch_is_credible_and_not_known_fixed(
    heap_index: SourceIndex,
) -> None:
    s = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(Verdict.reproduced, FixedVerdict.fixed_confirmed),
        duplicates=[],
        prior_outcomes=["validated", "validated", "invalid"],
    )
    assert s.grounded.value is GroundingVerdict.grounded
    assert s.reproduced.known and s.reproduced.value is True
    assert s.reproduced.state is Reproduction.reproduced
    assert "store_field|parse_records|main" in s.reproduced.evidence[0]
    # the fixed/ directory is a patch: it proves the fix, not that a release has it
    assert not s.already_fixed.known and "not known" in s.already_fixed.evidence[0]
    assert s.duplicate_of.known and s.duplicate_of.value is None
    assert s.track_record.known and s.track_record.value == pytest.approx(2 / 3, abs=1e-3)
    assert s.ssvc.outcome == "coordinate"


def test_a_bug_the_released_fix_removes_is_already_fixed(heap_index: SourceIndex) -> None:
    advisory = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(
            Verdict.reproduced,
            FixedVerdict.fixed_confirmed,
            fixed_kind="purl",
            derived_from="PYSEC-2017-24",
        ),
    )
    assert advisory.already_fixed.value is True
    assert "PYSEC-2017-24" in advisory.already_fixed.evidence[0]
    latest = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(Verdict.reproduced, FixedVerdict.fixed_confirmed),
        fixed_is_latest_release=True,
    )
    assert latest.already_fixed.value is True
    assert "latest release" in latest.already_fixed.evidence[0]


def test_still_reproducing_on_the_latest_release_is_live_not_suspect(
    heap_index: SourceIndex,
) -> None:
    s = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(Verdict.reproduced, FixedVerdict.still_reproduces),
        fixed_is_latest_release=True,
    )
    assert s.reproduced.state is Reproduction.reproduced
    assert s.already_fixed.known and s.already_fixed.value is False


def test_output_that_survives_a_known_fix_is_suspect(heap_index: SourceIndex) -> None:
    s = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(Verdict.reproduced, FixedVerdict.still_reproduces),
    )
    assert s.reproduced.state is Reproduction.suspect and s.reproduced.value is None
    assert "forged" in s.already_fixed.evidence[0]


def test_frames_the_source_does_not_have_make_a_reproduction_suspect(
    heap_index: SourceIndex,
) -> None:
    s = compute_signals(
        GENUINE,
        index=heap_index,
        validation=result(
            Verdict.reproduced,
            FixedVerdict.fixed_confirmed,
            signature="heap-buffer-overflow@parse_header|main",
        ),
    )
    assert s.reproduced.state is Reproduction.suspect
    assert "parse_header" in s.reproduced.evidence[1] and "main" not in s.reproduced.evidence[1]


@pytest.mark.parametrize(
    ("verdict", "state", "known"),
    [
        (Verdict.error, Reproduction.inconclusive, False),
        (Verdict.build_failed, Reproduction.inconclusive, False),
        (Verdict.not_reproduced, Reproduction.not_reproduced, True),
    ],
)
def test_a_validation_that_could_not_tell_is_not_a_no(
    verdict: Verdict, state: Reproduction, known: bool
) -> None:
    s = compute_signals(GENUINE, validation=result(verdict))
    assert (s.reproduced.state, s.reproduced.known) == (state, known)
    assert s.reproduced.value is (False if known else None)
    assert not s.already_fixed.known


def test_duplicates_prefer_an_alias_then_a_signature_then_the_closest_text() -> None:
    s = compute_signals(
        GENUINE,
        duplicates=[
            DuplicateCandidate(id="t1", rule="text", score=0.71),
            DuplicateCandidate(id="t2", rule="text", score=0.93),
            DuplicateCandidate(id="sig", rule="crash_signature", detail="same frames"),
        ],
    )
    assert s.duplicate_of.value == "sig"
    assert [c.id for c in s.duplicate_of.candidates] == ["sig", "t2", "t1"]
    text_only = compute_signals(
        GENUINE, duplicates=[DuplicateCandidate(id="t1", rule="text", score=0.71)]
    )
    assert "similarity 0.71" in text_only.duplicate_of.evidence[0]


def test_record_facts_reach_the_ssvc_decision() -> None:
    s = compute_signals(
        GENUINE.model_copy(update={"received_at": datetime(2026, 1, 1, tzinfo=UTC)}),
        ssvc_facts=SsvcFacts(report_public=True),
    )
    assert s.ssvc.outcome == "decline"
    assert s.received_at == datetime(2026, 1, 1, tzinfo=UTC)


@needs_bwrap
@needs_gcc
def test_a_real_validation_of_the_heap_overflow_example(tmp_path: Path) -> None:
    validator = Validator(
        tmp_path / "cache", index_url="http://127.0.0.1:9/simple", policy=LOOPBACK
    )
    validation = validator.validate(HEAP)
    s = compute_signals(
        GENUINE, index=SourceIndex.build(HEAP / "vulnerable"), validation=validation
    )
    assert s.reproduced.state is Reproduction.reproduced and s.reproduced.value is True
    assert s.ssvc.outcome == "coordinate"


@needs_bwrap
@needs_gcc
def test_a_real_validation_of_a_forged_report_is_suspect_and_its_text_ungrounded(
    tmp_path: Path,
) -> None:
    """tests/vulns/validation/data/forged-report prints a sanitizer report itself: it
    "reproduces" on both builds. Its frames (parse_header) are not in the source."""
    forged = DATA / "forged-report"
    validator = Validator(
        tmp_path / "cache", index_url="http://127.0.0.1:9/simple", policy=LOOPBACK
    )
    validation = validator.validate(forged)
    assert validation.verdict is Verdict.reproduced  # what the runner says, read alone
    text = (forged / "report.txt").read_text()
    s = compute_signals(
        ReportFacts(id="forged", text=text, has_poc=True),
        index=SourceIndex.build(forged / "vulnerable"),
        validation=validation,
    )
    assert s.reproduced.state is Reproduction.suspect
    assert s.grounded.value is GroundingVerdict.ungrounded
    assert s.ssvc.outcome == "decline"
