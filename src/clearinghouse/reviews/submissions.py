"""Submissions: a lab puts a model version up for review under an agreement, with its endpoint
and key (sealed) or a weights digest, and names the evaluator. Creating, loading (through the
policy), listing and the timeline of state changes; how a submission moves is `transitions`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal, authorize, list_scope
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.reviews import access
from clearinghouse.reviews.errors import AgreementWithdrawn
from clearinghouse.reviews.models import Agreement, StateChange, Submission
from clearinghouse.reviews.schemas import AccessOut, StateChangeOut, SubmissionCreate, SubmissionOut
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.targets import agreement_target, submission_target
from clearinghouse.storage.vault import Vault


def submission_out(s: Submission, window_days: int = 30) -> SubmissionOut:
    return SubmissionOut(
        id=s.id,
        agreement_id=s.agreement_id,
        lab_org_id=s.lab_org_id,
        evaluator_org_id=s.evaluator_org_id,
        model_name=s.model_name,
        model_version=s.model_version,
        planned_release_at=s.planned_release_at,
        access=AccessOut(
            kind="weights" if s.weights_digest else "endpoint",
            endpoint_url=s.endpoint_url,
            api_key_hint=s.api_key_hint,
            api_key_available=s.api_key_sealed_id is not None,
            weights_digest=s.weights_digest,
            verified_at=s.access_verified_at,
            models=s.access_models,
        ),
        state=S(s.state),
        window_opened_at=s.window_opened_at,
        deadline=s.deadline,
        window_shortened=s.window_shortened,
        window_days=window_days,
        created_at=s.created_at,
        updated_at=s.updated_at,
        ended_at=s.ended_at,
    )


def create_submission(
    session: Session, p: Principal, vault: Vault, settings: Settings, data: SubmissionCreate
) -> SubmissionOut:
    agreement = session.get(Agreement, data.agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement with id {data.agreement_id!r}")
    authorize(p, Action.submission_create, agreement_target(agreement))
    if agreement.status != "active":
        raise AgreementWithdrawn("the agreement was withdrawn; it accepts no new submissions")
    evaluator = session.get(Org, data.evaluator_org_id)
    if evaluator is None or evaluator.kind != OrgKind.evaluator:
        raise InvalidInput(
            "evaluator_org_id must name an organisation of kind evaluator",
            code="evaluator_org_invalid",
        )
    now = utcnow()
    if data.planned_release_at <= now:
        raise InvalidInput("planned_release_at must be in the future", code="release_in_past")
    endpoint = None
    if data.endpoint_url is not None:
        endpoint = access.validate_endpoint_url(
            data.endpoint_url, allow_private=settings.private_endpoints_allowed
        )
    sub = Submission(
        id=new_id("sub"),
        agreement_id=agreement.id,
        lab_org_id=agreement.lab_org_id,
        evaluator_org_id=evaluator.id,
        model_name=data.model_name,
        model_version=data.model_version,
        planned_release_at=data.planned_release_at,
        endpoint_url=endpoint,
        weights_digest=data.weights_digest,
        state=S.submitted.value,
        created_at=now,
        updated_at=now,
        access_models=[],
    )
    if data.api_key is not None:
        sealed = vault.seal_text(
            session, data.api_key.get_secret_value(), purpose="submission:api_key", show_hint=True
        )
        sub.api_key_sealed_id, sub.api_key_hint = sealed.id, sealed.hint
    session.add(sub)
    session.flush()
    session.add(
        StateChange(
            id=new_id("stc"),
            submission_id=sub.id,
            from_state=None,
            to_state=sub.state,
            at=now,
            actor_user_id=p.user_id,
            reason="submitted",
        )
    )
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_CREATE,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={
            "agreement_id": agreement.id,
            "model": f"{sub.model_name}@{sub.model_version}",
            "evaluator_org_id": evaluator.id,
            "planned_release_at": sub.planned_release_at.isoformat(),
        },
    )
    return submission_out(sub, settings.review_window_days)


def load_submission(
    session: Session,
    p: Principal,
    submission_id: str,
    action: Action = Action.submission_read,
    *,
    for_update: bool = False,
) -> Submission:
    """The submission, if `p` may do `action` on it (an unknown id and an invisible one are the
    same `NotFound`)."""
    sub = session.get(Submission, submission_id, with_for_update=for_update or None)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id!r}")
    authorize(p, action, submission_target(sub))
    return sub


def get_submission(
    session: Session, p: Principal, submission_id: str, settings: Settings
) -> SubmissionOut:
    sub = load_submission(session, p, submission_id)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_READ,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
    )
    return submission_out(sub, settings.review_window_days)


def list_submissions(
    session: Session,
    p: Principal,
    settings: Settings,
    *,
    state: S | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SubmissionOut]:
    scope = list_scope(p, "submission")
    if scope.nothing:
        return Page(items=[], next_cursor=None)
    query = select(Submission)
    query = query.where(scope.clause(Submission))
    if state is not None:
        query = query.where(Submission.state == state.value)
    rows, nxt = paginate(session, query, Submission.id, limit=limit, cursor=cursor)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_LIST,
        actor=p.actor,
        subject_type="submission",
        subject_id=None,
        data={"ids": [r.id for r in rows]},
    )
    return Page(
        items=[submission_out(s, settings.review_window_days) for s in rows], next_cursor=nxt
    )


def timeline(session: Session, p: Principal, submission_id: str) -> list[StateChangeOut]:
    sub = load_submission(session, p, submission_id)
    rows = session.scalars(
        select(StateChange).where(StateChange.submission_id == sub.id).order_by(StateChange.id)
    )
    return [
        StateChangeOut(
            from_state=S(r.from_state) if r.from_state else None,
            to_state=S(r.to_state),
            at=r.at,
            actor_user_id=r.actor_user_id,
            reason=r.reason,
        )
        for r in rows
    ]
