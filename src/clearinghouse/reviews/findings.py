"""Findings: what the evaluator found, one at a time, while testing or after. A finding's body
is sealed in the vault; reading it is audited and open only to the lab and its evaluator."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.reviews.models import Finding
from clearinghouse.reviews.schemas import FindingCreate, FindingOut, Severity
from clearinghouse.reviews.states import ACCEPTS_RESULTS
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.submissions import load_submission
from clearinghouse.storage.vault import Vault


def add_finding(
    session: Session, p: Principal, vault: Vault, submission_id: str, data: FindingCreate
) -> FindingOut:
    sub = load_submission(session, p, submission_id, Action.finding_create, for_update=True)
    if S(sub.state) not in ACCEPTS_RESULTS:
        raise InvalidInput(
            f"findings can be added while testing or after; the submission is {sub.state}",
            code="finding_not_allowed_now",
        )
    sealed = vault.seal_text(session, data.body, purpose="finding:body")
    finding = Finding(
        id=new_id("fnd"),
        submission_id=sub.id,
        title=data.title,
        severity=data.severity.value,
        category=data.category,
        body_sealed_id=sealed.id,
        created_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    session.add(finding)
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_FINDING_CREATE,
        actor=p.actor,
        subject_type="finding",
        subject_id=finding.id,
        data={"submission_id": sub.id, "severity": finding.severity},
    )
    return FindingOut(
        id=finding.id,
        submission_id=sub.id,
        title=finding.title,
        severity=data.severity,
        category=finding.category,
        body=data.body,
        created_at=finding.created_at,
    )


def list_findings(
    session: Session, p: Principal, vault: Vault, submission_id: str
) -> list[FindingOut]:
    sub = load_submission(session, p, submission_id, Action.finding_read)
    rows = session.scalars(
        select(Finding).where(Finding.submission_id == sub.id).order_by(Finding.id)
    ).all()
    audit.record(
        session,
        AuditTag.REVIEWS_FINDING_READ,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"ids": [f.id for f in rows]},
    )
    return [
        FindingOut(
            id=f.id,
            submission_id=sub.id,
            title=f.title,
            severity=Severity(f.severity),
            category=f.category,
            body=vault.reveal_text(session, f.body_sealed_id),
            created_at=f.created_at,
        )
        for f in rows
    ]
