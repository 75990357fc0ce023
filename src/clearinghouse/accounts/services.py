"""Organisations, users and tokens. Every function takes the acting principal and a session,
authorises through the policy module, and audits what it changes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.accounts.errors import (
    InvitationInvalid,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from clearinghouse.accounts.models import (
    ApiToken,
    Invitation,
    Membership,
    Org,
    OrgKind,
    Role,
    Scope,
    User,
)
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.accounts.schemas import (
    BootstrapResult,
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationIssued,
    InvitationOut,
    OrgCreate,
    OrgOut,
    TokenCreate,
    TokenIssued,
    TokenOut,
    UserCreate,
    UserOut,
)
from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage.db import Database, lock

TOKEN_PREFIX = "chk"
INVITATION_PREFIX = "chi"


def org_target(org: Org) -> Target:
    return Target("org", id=org.id, org_id=org.id)


def user_target(user: User) -> Target:
    return Target("user", id=user.id, org_id=user.membership.org_id, user_id=user.id)


def token_target(token: ApiToken, user: User) -> Target:
    return Target("token", id=token.id, org_id=user.membership.org_id, user_id=user.id)


def org_out(org: Org) -> OrgOut:
    return OrgOut(id=org.id, name=org.name, kind=OrgKind(org.kind), created_at=org.created_at)


def user_out(user: User) -> UserOut:
    m = user.membership
    return UserOut(
        id=user.id, email=user.email, org_id=m.org_id, role=Role(m.role), created_at=user.created_at
    )


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        user_id=token.user_id,
        scopes=[Scope(s) for s in token.scopes],
        hint=token.hint,
        description=token.description,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def _flush_unique(session: Session, what: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists", code="already_exists") from exc


# --- organisations -----------------------------------------------------------------------


def create_org(session: Session, p: Principal, data: OrgCreate) -> OrgOut:
    authorize(p, Action.org_create)
    org = Org(id=new_id("org"), name=data.name.strip(), kind=data.kind.value, created_at=utcnow())
    session.add(org)
    _flush_unique(session, f"an organisation named {org.name!r}")
    audit.record(
        session,
        AuditTag.ACCOUNTS_ORG_CREATE,
        actor=p.actor,
        subject_type="org",
        subject_id=org.id,
        data={"name": org.name, "kind": org.kind},
    )
    return org_out(org)


def load_org(session: Session, p: Principal, org_id: str, action: Action = Action.org_read) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound(f"no org with id {org_id!r}")
    authorize(p, action, org_target(org))
    return org


def get_org(session: Session, p: Principal, org_id: str) -> OrgOut:
    return org_out(load_org(session, p, org_id))


def list_orgs(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[OrgOut]:
    scope = list_scope(p, "org")
    query = select(Org)
    query = query.where(scope.clause(Org))
    rows, nxt = paginate(session, query, Org.id, limit=limit, cursor=cursor)
    return Page(items=[org_out(o) for o in rows], next_cursor=nxt)


# --- users -------------------------------------------------------------------------------


def create_user(session: Session, p: Principal, data: UserCreate) -> UserOut:
    """An organisation's admin adds a member to their own organisation (policy: `user:create`).
    Another organisation's people join by invitation."""
    org = session.get(Org, data.org_id)
    if org is None:
        raise NotFound(f"no org with id {data.org_id!r}")
    authorize(p, Action.user_create, org_target(org))
    user = _new_user(session, org.id, data.email, data.role)
    audit.record(
        session,
        AuditTag.ACCOUNTS_USER_CREATE,
        actor=p.actor,
        subject_type="user",
        subject_id=user.id,
        data={"org_id": org.id, "role": data.role.value},
    )
    return user_out(user)


def _normal_email(email: str) -> str:
    return email.strip().lower()


def _refuse_taken_email(session: Session, org_id: str, email: str) -> None:
    """Emails are unique within an organisation (the caller holds its email lock)."""
    if session.scalar(
        select(User.id).join(Membership).where(Membership.org_id == org_id, User.email == email)
    ):
        raise Conflict(
            f"a user with email {email!r} already exists in this organisation",
            code="already_exists",
        )


def _new_user(session: Session, org_id: str, email: str, role: Role) -> User:
    """Insert a user in `org_id`. An email is unique within its organisation only, so the
    conflict this raises tells the caller nothing about other organisations."""
    email = _normal_email(email)
    lock(session, f"accounts:email:{org_id}")
    _refuse_taken_email(session, org_id, email)
    now = utcnow()
    user = User(id=new_id("usr"), email=email, created_at=now)
    user.membership = Membership(org_id=org_id, role=role.value, created_at=now)
    session.add(user)
    session.flush()
    return user


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


# --- tokens ------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, p: Principal, data: TokenCreate) -> TokenIssued:
    """A token for oneself, or (an organisation's admin) for a user of one's own organisation.
    Nobody mints a token for another organisation's user."""
    user = session.get(User, data.user_id)
    if user is None:
        raise NotFound(f"no user with id {data.user_id!r}")
    # The target is the token-to-be: it belongs to `user`, in the user's organisation.
    authorize(
        p,
        Action.token_create,
        Target("token", id=None, org_id=user.membership.org_id, user_id=user.id),
    )
    if user.disabled_at is not None:
        raise Conflict("the user is disabled", code="user_disabled")
    if not p.is_system and not {Scope(s) for s in data.scopes} <= p.scopes:
        raise InvalidInput(
            "a token cannot grant scopes its creator's token lacks", code="scope_escalation"
        )
    issued, token = _new_token(session, user, data)
    audit.record(
        session,
        AuditTag.ACCOUNTS_TOKEN_CREATE,
        actor=p.actor,
        subject_type="token",
        subject_id=token.id,
        data={
            "user_id": user.id,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return issued


def _new_token(session: Session, user: User, data: TokenCreate) -> tuple[TokenIssued, ApiToken]:
    tid = new_id("tok")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        id=tid,
        user_id=user.id,
        secret_hash=_hash_secret(secret),
        hint=secret[-4:],
        scopes=sorted({s.value for s in data.scopes}),
        description=data.description,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days),
    )
    session.add(token)
    session.flush()
    bearer = f"{TOKEN_PREFIX}_{tid.removeprefix('tok_')}_{secret}"
    return TokenIssued(**token_out(token).model_dump(), token=bearer), token


def _load_token(session: Session, p: Principal, token_id: str, action: Action) -> ApiToken:
    token = session.get(ApiToken, token_id)
    user = session.get(User, token.user_id) if token else None
    if token is None or user is None:
        raise NotFound(f"no token with id {token_id!r}")
    authorize(p, action, token_target(token, user))
    return token


def revoke_token(session: Session, p: Principal, token_id: str) -> TokenOut:
    token = _load_token(session, p, token_id, Action.token_revoke)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            AuditTag.ACCOUNTS_TOKEN_REVOKE,
            actor=p.actor,
            subject_type="token",
            subject_id=token.id,
        )
    return token_out(token)


def list_tokens(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[TokenOut]:
    """The principal's own tokens."""
    query = select(ApiToken).where(ApiToken.user_id == p.user_id)
    rows, nxt = paginate(session, query, ApiToken.id, limit=limit, cursor=cursor)
    return Page(items=[token_out(t) for t in rows], next_cursor=nxt)


# --- invitations -------------------------------------------------------------------------


def _has_members(session: Session, org_id: str) -> bool:
    """Whether anyone belongs to the organisation yet (disabled users included: an
    organisation that ever had people is not new)."""
    return (
        session.scalar(select(Membership.user_id).where(Membership.org_id == org_id).limit(1))
        is not None
    )


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
    lock(session, f"accounts:email:{org.id}")
    outsider = p.org_id != org.id
    # A coordinator admin may seat only the first person of a new, empty organisation, as its
    # admin. An organisation that has people (admins or not) decides who joins it.
    first_admin = data.role is Role.admin and not _has_members(session, org.id)
    authorize(
        p,
        Action.invitation_create,
        Target("org", id=org.id, org_id=org.id, first_admin=first_admin),
    )
    email = _normal_email(data.email)
    _refuse_taken_email(session, org.id, email)
    code = f"{INVITATION_PREFIX}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    inv = Invitation(
        id=new_id("inv"),
        org_id=org.id,
        email=email,
        role=data.role.value,
        code_hash=_hash_secret(code),
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
        Target("org", id=org.id, org_id=org.id, first_admin=not _has_members(session, org.id)),
    )
    query = select(Invitation).where(Invitation.org_id == org.id)
    rows, nxt = paginate(session, query, Invitation.id, limit=limit, cursor=cursor)
    return Page(items=[invitation_out(i) for i in rows], next_cursor=nxt)


def accept_invitation(db: Database, data: InvitationAccept) -> InvitationAccepted:
    """Redeem a code (no token needed): creates the user and their first token, once.

    Every refusal answers the caller alike (`invitation_invalid`, 401), so a code learns nothing
    about its invitation. A refused code that names a real invitation (replayed after use,
    expired, superseded) is recorded in the audit trail with its reason, in a transaction of
    its own, since the refusal rolls the attempt back."""
    code_hash = _hash_secret(data.code.strip())
    try:
        with db.transaction() as session:
            return _accept(session, code_hash)
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


def _accept(session: Session, code_hash: str) -> InvitationAccepted:
    inv = session.scalar(
        select(Invitation).where(Invitation.code_hash == code_hash).with_for_update()
    )
    if inv is None:
        raise InvitationInvalid(
            "the invitation code is not valid (unknown, used, expired or superseded); ask the "
            "organisation's admin for a new invitation"
        )
    lock(session, f"accounts:email:{inv.org_id}")
    if inv.accepted_at is not None:
        raise _Refused(inv, "used")
    if inv.expires_at <= utcnow():
        raise _Refused(inv, "expired")
    if inv.first_admin and _has_members(session, inv.org_id):
        # An outsider's invitation only ever seats the first person of a new organisation.
        raise _Refused(inv, "superseded")
    user = _new_user(session, inv.org_id, inv.email, Role(inv.role))
    issued, token = _new_token(
        session, user, TokenCreate(user_id=user.id, description="from invitation")
    )
    inv.accepted_at, inv.accepted_user_id = utcnow(), user.id
    audit.record(
        session,
        AuditTag.ACCOUNTS_INVITATION_ACCEPT,
        actor=Actor(user.id, inv.org_id, token.id),
        subject_type="invitation",
        subject_id=inv.id,
        data={"user_id": user.id, "org_id": inv.org_id, "role": inv.role},
    )
    return InvitationAccepted(user_id=user.id, org_id=inv.org_id, token=issued.token)


def authenticate(session: Session, bearer: str) -> Principal:
    """Resolve a bearer token to a principal, or raise a specific Unauthenticated error."""
    parts = bearer.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise TokenInvalid("the bearer token is malformed")
    token = session.get(ApiToken, f"tok_{parts[1]}")
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(parts[2])):
        raise TokenInvalid("the bearer token is not valid")
    now = utcnow()
    if token.revoked_at is not None:
        raise TokenRevoked("the bearer token was revoked")
    if token.expires_at <= now:
        raise TokenExpired("the bearer token has expired")
    user = session.get(User, token.user_id)
    if user is None or user.disabled_at is not None:
        raise TokenInvalid("the token's user is disabled")
    org = user.membership.org
    # Touch last_used_at at most once a minute, to keep reads cheap.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return Principal(
        user_id=user.id,
        org_id=org.id,
        org_kind=OrgKind(org.kind),
        role=Role(user.membership.role),
        scopes=frozenset(Scope(s) for s in token.scopes),
        token_id=token.id,
    )


def bootstrap(session: Session, *, org_name: str, email: str) -> BootstrapResult:
    """Create the first coordinator organisation and its admin. Refuses if any org exists."""
    lock(session, "accounts:bootstrap")
    if session.scalar(select(Org.id).limit(1)) is not None:
        raise Conflict("this instance is already bootstrapped", code="already_bootstrapped")
    system = Principal.system()
    org = create_org(session, system, OrgCreate(name=org_name, kind=OrgKind.coordinator))
    user = create_user(session, system, UserCreate(org_id=org.id, email=email, role=Role.admin))
    token = issue_token(session, system, TokenCreate(user_id=user.id, description="bootstrap"))
    return BootstrapResult(org_id=org.id, user_id=user.id, token=token.token)
