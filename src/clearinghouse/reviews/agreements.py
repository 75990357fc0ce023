"""Agreements: a coordinator enrols a lab in the program (scope, confidentiality terms, retention
period, contacts); the lab may withdraw, which ends every open submission and destroys every
model key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.reviews import access
from clearinghouse.reviews.models import Agreement, Submission
from clearinghouse.reviews.schemas import AgreementCreate, AgreementOut, Contact
from clearinghouse.reviews.states import TERMINAL
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.targets import agreement_target
from clearinghouse.reviews.transitions import move
from clearinghouse.storage.vault import Vault


def agreement_out(a: Agreement) -> AgreementOut:
    return AgreementOut(
        id=a.id,
        lab_org_id=a.lab_org_id,
        scope=a.scope,
        confidentiality_terms=a.confidentiality_terms,
        retention_days=a.retention_days,
        contacts=[Contact(**c) for c in a.contacts],
        status="withdrawn" if a.status == "withdrawn" else "active",
        created_at=a.created_at,
        withdrawn_at=a.withdrawn_at,
    )


def create_agreement(session: Session, p: Principal, data: AgreementCreate) -> AgreementOut:
    lab = session.get(Org, data.lab_org_id)
    if lab is None or lab.kind != OrgKind.lab:
        raise InvalidInput(
            "lab_org_id must name an organisation of kind lab", code="lab_org_invalid"
        )
    authorize(p, Action.agreement_create, Target("agreement", id=None, lab_org_id=lab.id))
    agreement = Agreement(
        id=new_id("agr"),
        lab_org_id=lab.id,
        scope=data.scope,
        confidentiality_terms=data.confidentiality_terms,
        retention_days=data.retention_days,
        contacts=[c.model_dump() for c in data.contacts],
        status="active",
        created_at=utcnow(),
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_AGREEMENT_CREATE,
        actor=p.actor,
        subject_type="agreement",
        subject_id=agreement.id,
        data={"lab_org_id": lab.id, "retention_days": data.retention_days},
    )
    return agreement_out(agreement)


def load_agreement(
    session: Session, p: Principal, agreement_id: str, action: Action = Action.agreement_read
) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement with id {agreement_id!r}")
    authorize(p, action, agreement_target(agreement))
    return agreement


def get_agreement(session: Session, p: Principal, agreement_id: str) -> AgreementOut:
    return agreement_out(load_agreement(session, p, agreement_id))


def list_agreements(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[AgreementOut]:
    scope = list_scope(p, "agreement")
    query = select(Agreement)
    if scope.nothing:
        return Page(items=[], next_cursor=None)
    query = query.where(scope.clause(Agreement))
    rows, nxt = paginate(session, query, Agreement.id, limit=limit, cursor=cursor)
    return Page(items=[agreement_out(a) for a in rows], next_cursor=nxt)


def withdraw_agreement(
    session: Session, p: Principal, vault: Vault, agreement_id: str, reason: str = ""
) -> AgreementOut:
    """Withdraw: no new submissions, every open submission ends, every model key is destroyed."""
    agreement = load_agreement(session, p, agreement_id, Action.agreement_withdraw)
    if agreement.status == "withdrawn":
        return agreement_out(agreement)
    agreement.status = "withdrawn"
    agreement.withdrawn_at = utcnow()
    agreement.withdrawn_reason = reason
    audit.record(
        session,
        AuditTag.REVIEWS_AGREEMENT_WITHDRAW,
        actor=p.actor,
        subject_type="agreement",
        subject_id=agreement.id,
        data={"reason": reason},
    )
    subs = session.scalars(
        select(Submission).where(Submission.agreement_id == agreement.id).with_for_update()
    ).all()
    for sub in subs:
        if S(sub.state) not in TERMINAL:
            move(session, p, sub, S.withdrawn, "agreement withdrawn")
        access.destroy_api_key(session, p, vault, sub, "agreement withdrawn")
    return agreement_out(agreement)
