"""The audit vocabulary: one enum, every tag `domain:subject:action`."""

from __future__ import annotations

import re

import pytest

from clearinghouse.core.events import AuditTag, submission_transition
from clearinghouse.reviews.states import SubmissionState

TAG = re.compile(r"^[a-z]+:[a-z-]+:[a-z-]+$")


@pytest.mark.parametrize("tag", list(AuditTag))
def test_every_tag_reads_domain_subject_action(tag: AuditTag) -> None:
    assert TAG.fullmatch(tag.value), tag


def test_every_submission_state_has_its_transition_tag() -> None:
    for state in SubmissionState:
        assert submission_transition(state.value).value.startswith("reviews:submission:")


def test_an_unknown_transition_is_refused_rather_than_invented() -> None:
    with pytest.raises(ValueError):
        submission_transition("approved")
