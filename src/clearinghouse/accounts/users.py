"""Users and their membership of one organisation. An organisation's admin adds its own members;
another organisation's people join by invitation (`invitations`). An email is unique within its
organisation only, so a conflict tells the caller nothing about other organisations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Membership, Org, Role, User
from clearinghouse.accounts.orgs import org_target
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.accounts.schemas import UserCreate, UserOut
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage.db import lock


def user_target(user: User) -> Target:
    return Target("user", id=user.id, org_id=user.membership.org_id, user_id=user.id)


def user_out(user: User) -> UserOut:
    m = user.membership
    return UserOut(
        id=user.id, email=user.email, org_id=m.org_id, role=Role(m.role), created_at=user.created_at
    )


def email_lock(session: Session, org_id: str) -> None:
    """Serialise the changes that depend on which emails an organisation has."""
    lock(session, f"accounts:email:{org_id}")


def normal_email(email: str) -> str:
    return email.strip().lower()


def refuse_taken_email(session: Session, org_id: str, email: str) -> None:
    """Emails are unique within an organisation (the caller holds its `email_lock`)."""
    if session.scalar(
        select(User.id).join(Membership).where(Membership.org_id == org_id, User.email == email)
    ):
        raise Conflict(
            f"a user with email {email!r} already exists in this organisation",
            code="already_exists",
        )


def has_members(session: Session, org_id: str) -> bool:
    """Whether anyone belongs to the organisation yet (disabled users included: an
    organisation that ever had people is not new)."""
    return (
        session.scalar(select(Membership.user_id).where(Membership.org_id == org_id).limit(1))
        is not None
    )


def new_user(session: Session, org_id: str, email: str, role: Role) -> User:
    """Insert a user in `org_id`, once the caller has authorised it."""
    email = normal_email(email)
    email_lock(session, org_id)
    refuse_taken_email(session, org_id, email)
    now = utcnow()
    user = User(id=new_id("usr"), email=email, created_at=now)
    user.membership = Membership(org_id=org_id, role=role.value, created_at=now)
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, p: Principal, data: UserCreate) -> UserOut:
    """An organisation's admin adds a member to their own organisation (policy: `user:create`).
    Another organisation's people join by invitation."""
    org = session.get(Org, data.org_id)
    if org is None:
        raise NotFound(f"no org with id {data.org_id!r}")
    authorize(p, Action.user_create, org_target(org))
    user = new_user(session, org.id, data.email, data.role)
    audit.record(
        session,
        AuditTag.ACCOUNTS_USER_CREATE,
        actor=p.actor,
        subject_type="user",
        subject_id=user.id,
        data={"org_id": org.id, "role": data.role.value},
    )
    return user_out(user)


def load_user(
    session: Session, p: Principal, user_id: str, action: Action = Action.user_read
) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    authorize(p, action, user_target(user))
    return user


def get_user(session: Session, p: Principal, user_id: str) -> UserOut:
    return user_out(load_user(session, p, user_id))


def list_users(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[UserOut]:
    scope = list_scope(p, "user")
    query = select(User).join(Membership)
    query = query.where(scope.clause(Membership))
    rows, nxt = paginate(session, query, User.id, limit=limit, cursor=cursor)
    return Page(items=[user_out(u) for u in rows], next_cursor=nxt)
