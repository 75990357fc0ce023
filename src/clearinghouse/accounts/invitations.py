"""Invitations: how a person joins an organisation they cannot be added to directly. Its admins
invite their own members; a coordinator admin may invite only the first admin of an organisation
that has none. A code is shown once (only its hash is stored), works once, and expires."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.errors import InvitationInvalid
from clearinghouse.accounts.models import Invitation, Org, Role
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.accounts.schemas import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationIssued,
    InvitationOut,
    TokenCreate,
)
from clearinghouse.accounts.tokens import hash_secret, new_token
from clearinghouse.accounts.users import (
    email_lock,
    has_members,
    new_user,
    normal_email,
    refuse_taken_email,
)
from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage.db import Database

INVITATION_PREFIX = "chi"


def invitation_out(inv: Invitation) -> InvitationOut:
    return InvitationOut(
        id=inv.id,
        org_id=inv.org_id,
        email=inv.email,
        role=Role(inv.role),
        created_at=inv.created_at,
        expires_at=inv.expires_at,
        accepted_at=inv.accepted_at,
    )


def create_invitation(
    session: Session, p: Principal, org_id: str, data: InvitationCreate
) -> InvitationIssued:
    """Invite a person into `org_id`. Its admins invite their own members; a coordinator admin
    may invite only the first admin of an organisation that has none. The code is returned
    once; only its hash is stored."""
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound(f"no org with id {org_id!r}")
    email_lock(session, org.id)
    outsider = p.org_id != org.id
    # A coordinator admin may seat only the first person of a new, empty organisation, as its
    # admin. An organisation that has people (admins or not) decides who joins it.
    first_admin = data.role is Role.admin and not has_members(session, org.id)
    authorize(
        p,
        Action.invitation_create,
        Target("org", id=org.id, org_id=org.id, first_admin=first_admin),
    )
    email = normal_email(data.email)
    refuse_taken_email(session, org.id, email)
    code = f"{INVITATION_PREFIX}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    inv = Invitation(
        id=new_id("inv"),
        org_id=org.id,
        email=email,
        role=data.role.value,
        code_hash=hash_secret(code),
        first_admin=outsider and first_admin,
        created_by_user_id=p.user_id,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days),
    )
    session.add(inv)
    session.flush()
    audit.record(
        session,
        AuditTag.ACCOUNTS_INVITATION_CREATE,
        actor=p.actor,
        subject_type="invitation",
        subject_id=inv.id,
        data={"org_id": org.id, "role": inv.role, "expires_at": inv.expires_at.isoformat()},
    )
    return InvitationIssued(
        id=inv.id, org_id=org.id, email=email, role=data.role, code=code, expires_at=inv.expires_at
    )


def list_invitations(
    session: Session, p: Principal, org_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[InvitationOut]:
    """An organisation's invitations, for those who may invite into it (codes never shown)."""
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound(f"no org with id {org_id!r}")
    authorize(
        p,
        Action.invitation_create,
        Target("org", id=org.id, org_id=org.id, first_admin=not has_members(session, org.id)),
    )
    query = select(Invitation).where(Invitation.org_id == org.id)
    rows, nxt = paginate(session, query, Invitation.id, limit=limit, cursor=cursor)
    return Page(items=[invitation_out(i) for i in rows], next_cursor=nxt)


def accept_invitation(
    db: Database, data: InvitationAccept, *, password_hash: str | None = None
) -> InvitationAccepted:
    """Redeem a code (no token needed): creates the user and their first token, once; with
    `password_hash` (the web page: `passwords.hash_password`, made before the transaction),
    the user's password too.

    Every refusal answers the caller alike (`invitation_invalid`, 401), so a code learns nothing
    about its invitation. A refused code that names a real invitation (replayed after use,
    expired, superseded) is recorded in the audit trail with its reason, in a transaction of
    its own, since the refusal rolls the attempt back."""
    code_hash = hash_secret(data.code.strip())
    try:
        with db.transaction() as session:
            return _accept(session, code_hash, password_hash)
    except _Refused as refused:
        with db.transaction() as session:
            audit.record(
                session,
                AuditTag.ACCOUNTS_INVITATION_REFUSE,
                actor=Actor(),
                subject_type="invitation",
                subject_id=refused.invitation_id,
                data={"org_id": refused.org_id, "reason": refused.reason},
            )
        raise InvitationInvalid(
            "the invitation code is not valid (unknown, used, expired or superseded); ask the "
            "organisation's admin for a new invitation"
        ) from None


class _Refused(Exception):
    def __init__(self, inv: Invitation, reason: str) -> None:
        super().__init__(reason)
        self.invitation_id, self.org_id, self.reason = inv.id, inv.org_id, reason


def _accept(session: Session, code_hash: str, password_hash: str | None) -> InvitationAccepted:
    inv = session.scalar(
        select(Invitation).where(Invitation.code_hash == code_hash).with_for_update()
    )
    if inv is None:
        raise InvitationInvalid(
            "the invitation code is not valid (unknown, used, expired or superseded); ask the "
            "organisation's admin for a new invitation"
        )
    email_lock(session, inv.org_id)
    if inv.accepted_at is not None:
        raise _Refused(inv, "used")
    if inv.expires_at <= utcnow():
        raise _Refused(inv, "expired")
    if inv.first_admin and has_members(session, inv.org_id):
        # An outsider's invitation only ever seats the first person of a new organisation.
        raise _Refused(inv, "superseded")
    user = new_user(session, inv.org_id, inv.email, Role(inv.role))
    user.password_hash = password_hash
    issued, token = new_token(
        session, user, TokenCreate(user_id=user.id, description="from invitation")
    )
    inv.accepted_at, inv.accepted_user_id = utcnow(), user.id
    audit.record(
        session,
        AuditTag.ACCOUNTS_INVITATION_ACCEPT,
        actor=Actor(user.id, inv.org_id, token.id),
        subject_type="invitation",
        subject_id=inv.id,
        data={
            "user_id": user.id,
            "org_id": inv.org_id,
            "role": inv.role,
            "password_set": password_hash is not None,
        },
    )
    return InvitationAccepted(user_id=user.id, org_id=inv.org_id, token=issued.token)
