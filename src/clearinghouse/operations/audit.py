"""Reading the audit trail: the policy-checked operations the API and the CLI call. Here, not
in audit/, because it asks the policy (accounts), which itself writes through audit.trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit.models import AuditEvent
from clearinghouse.audit.schemas import AuditEventOut, ChainVerification, CheckpointOut
from clearinghouse.audit.trail import latest, write_checkpoint
from clearinghouse.audit.verify import verify_chain
from clearinghouse.core.errors import InvalidInput, NotFound


def create_checkpoint(session: Session, p: Principal) -> CheckpointOut:
    authorize(p, Action.audit_checkpoint)
    return CheckpointOut.model_validate(write_checkpoint(session, p.actor))


def latest_checkpoint(session: Session, p: Principal) -> CheckpointOut:
    authorize(p, Action.audit_read)
    row = latest(session)
    if row is None:
        raise NotFound("no checkpoint has been written yet", code="checkpoint_not_found")
    return CheckpointOut.model_validate(row)


def list_events(
    session: Session,
    p: Principal,
    *,
    tag: str | None = None,
    subject_id: str | None = None,
    limit: int = 50,
    after_seq: int | None = None,
) -> list[AuditEventOut]:
    """Coordinators read the trail, oldest first; page with `after_seq`."""
    authorize(p, Action.audit_read)
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", code="limit_invalid")
    query = select(AuditEvent).order_by(AuditEvent.seq).limit(limit)
    if tag:
        query = query.where(AuditEvent.tag == tag)
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if after_seq is not None:
        query = query.where(AuditEvent.seq > after_seq)
    return [AuditEventOut.model_validate(e) for e in session.scalars(query)]


def verify(session: Session, p: Principal) -> ChainVerification:
    authorize(p, Action.audit_read)
    return verify_chain(session)
