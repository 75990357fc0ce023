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

from clearinghouse.accounts.errors import TokenExpired, TokenInvalid, TokenRevoked
from clearinghouse.accounts.models import ApiToken, Membership, Org, OrgKind, Role, Scope, User
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.accounts.schemas import (
    BootstrapResult,
    OrgCreate,
    OrgOut,
    TokenCreate,
    TokenIssued,
    TokenOut,
    UserCreate,
    UserOut,
)
from clearinghouse.audit import services as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage.db import lock

TOKEN_PREFIX = "chk"


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
        "accounts:org:create",
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
    org = session.get(Org, data.org_id)
    if org is None:
        raise NotFound(f"no org with id {data.org_id!r}")
    authorize(p, Action.user_create, org_target(org))
    now = utcnow()
    user = User(id=new_id("usr"), email=data.email.strip().lower(), created_at=now)
    user.membership = Membership(org_id=org.id, role=data.role.value, created_at=now)
    session.add(user)
    _flush_unique(session, f"a user with email {user.email!r}")
    audit.record(
        session,
        "accounts:user:create",
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


# --- tokens ------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, p: Principal, data: TokenCreate) -> TokenIssued:
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
    audit.record(
        session,
        "accounts:token:create",
        actor=p.actor,
        subject_type="token",
        subject_id=tid,
        data={
            "user_id": user.id,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return TokenIssued(
        **token_out(token).model_dump(), token=f"{TOKEN_PREFIX}_{tid.removeprefix('tok_')}_{secret}"
    )


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
            "accounts:token:revoke",
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
