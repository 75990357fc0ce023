"""API tokens: issued to oneself or, by an organisation's admin, to a member of one's own
organisation (never another organisation's user); revoked; listed; and resolved from a bearer
string to the `Principal` every request acts as. Only a hash of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from clearinghouse.accounts.errors import TokenExpired, TokenInvalid, TokenRevoked
from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.models import ApiToken, OrgKind, Role, Scope, User
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.accounts.schemas import TokenCreate, TokenIssued, TokenOut
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page

TOKEN_PREFIX = "chk"


def hash_secret(secret: str) -> str:
    """What is stored of a token's secret (and of an invitation code)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_target(token: ApiToken, user: User) -> Target:
    return Target("token", id=token.id, org_id=user.membership.org_id, user_id=user.id)


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
    issued, token = new_token(session, user, data)
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


def new_token(session: Session, user: User, data: TokenCreate) -> tuple[TokenIssued, ApiToken]:
    """Insert a token for `user`, once the caller has authorised it; the bearer string is in the
    `TokenIssued` only, never stored."""
    tid = new_id("tok")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        id=tid,
        user_id=user.id,
        secret_hash=hash_secret(secret),
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
    """The principal's own tokens (the policy's `own_token` list scope)."""
    return scoped_page(session, p, "own_token", ApiToken, token_out, limit=limit, cursor=cursor)


def authenticate(session: Session, bearer: str) -> Principal:
    """Resolve a bearer token to a principal, or raise a specific Unauthenticated error."""
    parts = bearer.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise TokenInvalid("the bearer token is malformed")
    token = session.get(ApiToken, f"tok_{parts[1]}")
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(parts[2])):
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
