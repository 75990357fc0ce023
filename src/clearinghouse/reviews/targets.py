"""What the policy decides on for review objects: `accounts.policy.Target`s of agreements and
submissions (the lab that owns them, and a submission's assigned evaluator)."""

from __future__ import annotations

from clearinghouse.accounts.policy import Target
from clearinghouse.reviews.models import Agreement, Submission


def agreement_target(a: Agreement) -> Target:
    return Target("agreement", id=a.id, lab_org_id=a.lab_org_id)


def submission_target(s: Submission) -> Target:
    return Target(
        "submission", id=s.id, lab_org_id=s.lab_org_id, evaluator_org_id=s.evaluator_org_id
    )
