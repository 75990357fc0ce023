"""How a submission moves through its states (`states.py`): the one `move` (state, timeline row,
audit event), the transitions people request, and verify-access, which opens the review window.
A review that ends destroys its model key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag, submission_transition
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.reviews import access
from clearinghouse.reviews.errors import DeadlinePassed
from clearinghouse.reviews.models import StateChange, Submission
from clearinghouse.reviews.schemas import SubmissionOut, TransitionRequest, TransitionTarget
from clearinghouse.reviews.states import TERMINAL, check_transition, review_deadline
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.submissions import load_submission, submission_out
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault


def move(session: Session, p: Principal, sub: Submission, target: S, reason: str) -> None:
    """Move `sub` to `target` if the state machine allows it, with its timeline row and audit
    event. The caller has authorised `p` and holds the row lock."""
    current = S(sub.state)
    check_transition(current, target)
    now = utcnow()
    sub.state = target.value
    sub.updated_at = now
    if target in TERMINAL:
        sub.ended_at = now
    session.add(
        StateChange(
            id=new_id("stc"),
            submission_id=sub.id,
            from_state=current.value,
            to_state=target.value,
            at=now,
            actor_user_id=p.user_id,
            reason=reason,
        )
    )
    audit.record(
        session,
        submission_transition(target.value),
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"from": current.value, "reason": reason},
    )


def start_testing(session: Session, p: Principal, sub: Submission, reason: str) -> None:
    """access_verified -> testing, when an eval run of the submission starts."""
    move(session, p, sub, S.testing, reason)


def require_window_open(sub: Submission) -> None:
    if sub.deadline is not None and sub.deadline <= utcnow():
        raise DeadlinePassed("the review window's deadline has passed; the submission will lapse")


def transition(
    session: Session,
    p: Principal,
    vault: Vault,
    settings: Settings,
    submission_id: str,
    request: TransitionRequest,
) -> SubmissionOut:
    action = {
        TransitionTarget.testing: Action.submission_advance,
        TransitionTarget.findings_drafted: Action.submission_advance,
        TransitionTarget.closed: Action.submission_close,
        TransitionTarget.withdrawn: Action.submission_withdraw,
    }[request.to]
    sub = load_submission(session, p, submission_id, action, for_update=True)
    target = S(request.to.value)
    if target in {S.testing, S.findings_drafted}:
        require_window_open(sub)
    move(session, p, sub, target, request.reason)
    if target in TERMINAL:
        access.destroy_api_key(session, p, vault, sub, f"submission {target.value}")
    return submission_out(sub, settings.review_window_days)


def verify_access(
    db: Database,
    p: Principal,
    vault: Vault,
    settings: Settings,
    submission_id: str,
    *,
    prober: access.ModelProber | None = None,
) -> SubmissionOut:
    """Probe the endpoint (GET /v1/models with the key, through the outbound policy unless
    another `prober` is given). On success the review window opens.

    Three short transactions, so that no database lock is held while the remote endpoint is
    slow: read the key; call the endpoint; record the result (re-checking the state).
    """
    prober = prober or access.HttpModelProber(OutboundPolicy.from_settings(settings))
    with db.transaction() as session:
        sub = load_submission(session, p, submission_id, Action.submission_verify)
        if S(sub.state) in TERMINAL:
            check_transition(S(sub.state), S.access_verified)
        if sub.endpoint_url is None:
            raise InvalidInput(
                "weights-only submissions have no endpoint to verify", code="no_endpoint"
            )
        url = sub.endpoint_url
        key = access.reveal_api_key(session, p, vault, sub, "verify-access")
    result = prober.probe(url, key)
    del key
    with db.transaction() as session:
        sub = load_submission(session, p, submission_id, Action.submission_verify, for_update=True)
        now = utcnow()
        sub.access_verified_at = now
        sub.access_models = result.models
        sub.updated_at = now
        if S(sub.state) == S.submitted:
            move(session, p, sub, S.access_verified, "endpoint answered GET /v1/models")
            sub.window_opened_at = now
            sub.deadline, sub.window_shortened = review_deadline(
                now, sub.planned_release_at, settings.review_window_days
            )
            audit.record(
                session,
                AuditTag.REVIEWS_WINDOW_OPEN,
                actor=p.actor,
                subject_type="submission",
                subject_id=sub.id,
                data={"deadline": sub.deadline.isoformat(), "shortened": sub.window_shortened},
            )
        elif S(sub.state) in TERMINAL:
            check_transition(S(sub.state), S.access_verified)
        else:
            audit.record(
                session,
                AuditTag.REVIEWS_SUBMISSION_ACCESS_RECHECK,
                actor=p.actor,
                subject_type="submission",
                subject_id=sub.id,
                data={"models": result.models},
            )
        return submission_out(sub, settings.review_window_days)
