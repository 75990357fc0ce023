"""The queue orders by evidence, not arrival, says why, and is deterministic; the audit sample
picks the same likely-invalid reports every time, at about the configured share."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.queue import Tier, audit_sample, draw, rank, tier_of
from clearinghouse.vulns.signals.signals import (
    DuplicateCandidate,
    ReportFacts,
    TriageSignals,
    compute_signals,
)
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.validation.schemas import (
    FixedVerdict,
    SourceRef,
    ValidationResult,
    Verdict,
)
from tests.vulns.validation.conftest import EXAMPLES

T0 = datetime(2026, 3, 1, tzinfo=UTC)
INDEX = SourceIndex.build(EXAMPLES / "c-heap-overflow" / "vulnerable")
GOOD_TEXT = "store_field() (records.c:21) writes one past the buffer, from parse_records()."


def validated(fixed: FixedVerdict, kind: str = "directory") -> ValidationResult:
    return ValidationResult(
        verdict=Verdict.reproduced,
        fixed_verdict=fixed,
        signature="heap-buffer-overflow@store_field|parse_records|main",
        crash_type="heap-buffer-overflow",
        fixed_source=SourceRef(
            kind=kind,  # type: ignore[arg-type]
            ref="fixed" if kind == "directory" else "pkg:pypi/x@2",
            sha256="0" * 64,
            tree_sha256="0" * 64,
        ),
    )


def sig(
    report_id: str,
    text: str,
    minutes: int,
    *,
    has_poc: bool = False,
    validation: ValidationResult | None = None,
    duplicates: list[DuplicateCandidate] | None = None,
    prior: list[str] | None = None,
) -> TriageSignals:
    return compute_signals(
        ReportFacts(
            id=report_id,
            text=text,
            received_at=T0 + timedelta(minutes=minutes),
            has_poc=has_poc,
            reporter="rep-" + report_id,
        ),
        index=INDEX,
        validation=validation,
        duplicates=duplicates if duplicates is not None else [],
        prior_outcomes=prior,
    )


@pytest.fixture
def mixed() -> list[TriageSignals]:
    """Arrival order is the reverse of evidence order."""
    return [
        sig("invented", "Use after free in free_session_cache() in session_mgr.c:210.", 0),
        sig("vague", "Critical RCE via crafted input. Please fix ASAP.", 1),
        sig(
            "duplicate",
            GOOD_TEXT,
            2,
            duplicates=[DuplicateCandidate(id="genuine", rule="text", score=0.9)],
        ),
        sig(
            "fixed",
            GOOD_TEXT,
            3,
            has_poc=True,
            validation=validated(FixedVerdict.fixed_confirmed, "purl"),
        ),
        sig(
            "not-repro",
            GOOD_TEXT,
            4,
            has_poc=True,
            validation=ValidationResult(
                verdict=Verdict.not_reproduced, fixed_verdict=FixedVerdict.not_run, expect="asan"
            ),
        ),
        sig("grounded", GOOD_TEXT, 5),
        sig("grounded-poc", GOOD_TEXT, 6, has_poc=True),
        sig(
            "reproduced",
            GOOD_TEXT,
            7,
            has_poc=True,
            validation=validated(FixedVerdict.fixed_confirmed),
        ),
    ]


def test_the_queue_orders_by_evidence_not_arrival(mixed: list[TriageSignals]) -> None:
    queue = rank(mixed)
    assert [e.report_id for e in queue] == [
        "reproduced",
        "grounded-poc",
        "grounded",
        "not-repro",
        "fixed",
        "duplicate",
        "invented",
        "vague",
    ]
    assert [e.position for e in queue] == list(range(1, 9))
    assert [e.likely_invalid for e in queue] == [False] * 6 + [True] * 2


def test_every_entry_says_why(mixed: list[TriageSignals]) -> None:
    why = {e.report_id: e.why for e in rank(mixed)}
    assert why["reproduced"].startswith(
        "1 of 8, reproduced, not fixed: reproduced on the named version"
    )
    assert "store_field|parse_records|main" in why["reproduced"]
    assert "SSVC Coordinator Triage 1.0.0: Coordinate" in why["reproduced"]
    assert "likely invalid: none of the code it names exists in the source" in why["invented"]
    assert "free_session_cache()" in why["invented"] and "session_mgr.c" in why["invented"]
    assert "Decline" in why["invented"]
    assert "names no code that can be checked and carries no PoC" in why["vague"]
    assert "duplicate of genuine" in why["duplicate"]
    assert "already fixed" in why["fixed"] and "a release" in why["fixed"]
    assert "a PoC is attached, not yet validated" in why["grounded-poc"]
    assert "did not show asan" in why["not-repro"]


def test_the_order_is_deterministic_whatever_the_input_order(mixed: list[TriageSignals]) -> None:
    want = rank(mixed)
    shuffler = random.Random(7)
    for _ in range(20):
        shuffled = mixed[:]
        shuffler.shuffle(shuffled)
        assert rank(shuffled) == want


def test_within_a_tier_the_track_record_then_arrival_break_ties() -> None:
    early = sig("early", GOOD_TEXT, 0)
    late_trusted = sig("late-trusted", GOOD_TEXT, 9, prior=["validated"] * 8)
    late_slop = sig("late-slop", GOOD_TEXT, 5, prior=["invalid"] * 8)
    queue = rank([early, late_slop, late_trusted])
    assert [e.report_id for e in queue] == ["late-trusted", "early", "late-slop"]
    assert "reporter rep-late-trusted: 8 of 8 earlier reports validated" in queue[0].why
    unknown_time = sig("no-time", GOOD_TEXT, 0).model_copy(update={"received_at": None})
    assert rank([unknown_time, early])[-1].report_id == "no-time"


def test_a_report_that_names_one_real_function_among_invented_ones_is_likely_invalid() -> None:
    s = sig("mixed", "store_field() calls decode_ext_header() and validate_len() in parser.c.", 0)
    tier, reason = tier_of(s)
    assert tier is Tier.likely_invalid and "only 25%" in reason


def test_a_report_without_a_source_tree_is_not_called_invalid() -> None:
    s = compute_signals(ReportFacts(id="x", text="Heap overflow in foo_bar()."))
    assert tier_of(s)[0] is Tier.credible
    assert "no source tree" in tier_of(s)[1]


def test_a_reproduced_report_is_never_likely_invalid_whatever_its_text() -> None:
    s = sig(
        "r",
        "Critical bug in nonexistent_fn() in nowhere.c.",
        0,
        has_poc=True,
        validation=validated(FixedVerdict.fixed_confirmed),
    )
    assert tier_of(s)[0] is Tier.reproduced_open


def test_the_audit_sample_is_deterministic_stable_and_near_its_share() -> None:
    signals = [
        sig(f"slop-{i}", f"Overflow in invented_fn_{i}() in nowhere.c.", i) for i in range(400)
    ]
    queue = rank(signals)
    assert all(e.likely_invalid for e in queue)
    picks = audit_sample(queue, 0.1, salt="instance-secret")
    again = audit_sample(list(reversed(queue)), 0.1, salt="instance-secret")
    assert {p.report_id for p in again} == {p.report_id for p in picks}
    assert 20 <= len(picks) <= 60  # 10% of 400, binomial spread
    # a report's pick depends only on its id: adding reports changes no earlier pick
    fewer = {p.report_id for p in audit_sample(queue[:100], 0.1, salt="instance-secret")}
    assert fewer == {p.report_id for p in picks} & {e.report_id for e in queue[:100]}
    # another salt, another sample
    assert {p.report_id for p in audit_sample(queue, 0.1, salt="other")} != {
        p.report_id for p in picks
    }
    assert all(p.draw < 0.1 and "below the share" in p.why for p in picks)


def test_the_audit_sample_only_takes_likely_invalid_reports(mixed: list[TriageSignals]) -> None:
    queue = rank(mixed)
    picks = audit_sample(queue, 1.0)
    assert {p.report_id for p in picks} == {"invented", "vague"}
    assert audit_sample(queue, 0.0) == []


def test_at_least_one_is_sent_when_the_share_picks_none() -> None:
    queue = rank([sig(f"s{i}", f"Bug in made_up_{i}().", i) for i in range(3)])
    picks = audit_sample(queue, 0.001)
    assert len(picks) == 1
    assert picks[0].draw == round(min(draw(e.report_id) for e in queue), 6)
    assert "the lowest draw" in picks[0].why
    assert audit_sample(queue, 0.001, at_least_one=False) == []


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(SignalInputInvalid) as err:
        audit_sample([], share)
    assert err.value.code == "audit_share_invalid"
