"""A case's message thread. Each message carries its TLP label (the case's by default; it may
be stricter, never looser) and its body is sealed at rest. A TLP:RED message names its
recipients; only they, its author's organisation and coordinators read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import CASE_FULL_ROLES, TLP_ORDER, Action, Principal
from clearinghouse.coordination import cases, timeline
from clearinghouse.coordination.access import add_audience, item_clause, load_case, parties
from clearinghouse.coordination.errors import CaseInputInvalid
from clearinghouse.coordination.models import Case, Message
from clearinghouse.coordination.schemas import MessageCreate, MessageOut
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.core.tlp import Tlp
from clearinghouse.storage.vault import Vault


def label_for(case: Case, requested: Tlp | None) -> str:
    """The item's TLP: the case's by default; refused when looser than the case's."""
    label = requested.value if requested else case.tlp
    if TLP_ORDER.index(label) < TLP_ORDER.index(case.tlp):
        raise CaseInputInvalid(
            f"TLP:{label} is looser than the case's TLP:{case.tlp}", code="tlp_looser_than_case"
        )
    return label


def check_recipients(session: Session, case: Case, tlp: str, recipients: list[str]) -> list[str]:
    if recipients and tlp != Tlp.red.value:
        raise CaseInputInvalid(
            "named recipients are for TLP:RED items only", code="recipients_need_red"
        )
    full = {org for org, role in parties(session, case.id) if role in CASE_FULL_ROLES}
    unknown = sorted(set(recipients) - full)
    if unknown:
        raise CaseInputInvalid(
            "a TLP:RED recipient must be a reporter, vendor or coordinator of the case",
            code="recipient_not_participant",
        )
    return sorted(set(recipients))


def post_message(
    session: Session, p: Principal, vault: Vault, case_id: str, body: MessageCreate
) -> MessageOut:
    case, _ = load_case(session, p, case_id, Action.case_post_message, for_update=True)
    cases.require_active(case)
    tlp = label_for(case, body.tlp)
    recipients = check_recipients(session, case, tlp, body.recipient_org_ids)
    message = Message(
        id=new_id("cmsg"),
        case_id=case.id,
        tlp=tlp,
        author_org_id=p.org_id,
        author_user_id=p.user_id,
        recipient_org_ids=recipients,
        body_sealed_id=vault.seal_text(session, body.body, purpose="coordination:message").id,
        created_at=utcnow(),
    )
    session.add(message)
    add_audience(session, message.id, tlp, [p.org_id, *recipients])
    session.flush()
    timeline.record(
        session,
        p,
        case.id,
        "message_posted",
        AuditTag.COORDINATION_MESSAGE_POST,
        {"message_id": message.id, "tlp": tlp},
        tlp=tlp,
        recipients=recipients,
    )
    return _out(message, body.body)


def _out(m: Message, body: str) -> MessageOut:
    return MessageOut(
        id=m.id,
        tlp=m.tlp,
        author_org_id=m.author_org_id,
        recipient_org_ids=m.recipient_org_ids,
        body=body,
        created_at=m.created_at,
    )


def list_messages(
    session: Session, p: Principal, vault: Vault, case_id: str, *, limit: int, cursor: str | None
) -> Page[MessageOut]:
    """The messages the caller may read (its clearance, filtered in SQL), oldest first."""
    _, target = load_case(session, p, case_id, Action.case_read)
    query = select(Message).where(
        Message.case_id == case_id, item_clause(p, target, "case_message", Message)
    )
    rows, nxt = paginate(session, query, Message.id, limit=limit, cursor=cursor)
    items = [_out(m, vault.reveal_text(session, m.body_sealed_id)) for m in rows]
    return Page(items=items, next_cursor=nxt)
