"""Web sessions: a browser's sign-in. A password (or an accepted invitation) opens one; the
cookie carries a 256-bit secret of which only the SHA-256 is stored; every request resolves it
to the same `Principal` as an API token of that user with the read and write scopes would be.

A session ends at the first of: sign-out (revoked), `web_session_idle_minutes` unused,
`web_session_absolute_hours` after sign-in, the user disabled. Each session has a CSRF token
derived from its secret (HMAC), of which only the hash is stored; forms carry it
(docs/web.md). Failed sign-ins are audited and rate-limited per e-mail and client address."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts import invitations
from clearinghouse.accounts.errors import (
    SignInRefused,
    SignInThrottled,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from clearinghouse.accounts.models import LoginFailure, OrgKind, Role, Scope, User, WebSession
from clearinghouse.accounts.passwords import check_password, hash_password
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.accounts.schemas import InvitationAccept
from clearinghouse.accounts.tokens import hash_secret
from clearinghouse.accounts.users import normal_email
from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.storage.db import Database

SESSION_SCOPES = frozenset({Scope.read, Scope.write})
# How long an ended session's row is kept before the periodic purge deletes it. An ended
# session never signs in (`resolve`); its sign-in and sign-out stay in the audit trail.
PURGE_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Opened:
    """A new session: `secret` goes in the cookie and nowhere else."""

    session_id: str
    secret: str
    expires_at: datetime


@dataclass(frozen=True)
class Resolved:
    principal: Principal
    session_id: str
    csrf_hash: str


def csrf_token(secret: str) -> str:
    """The session's CSRF token: derived from the cookie's secret, so a page can render it
    without storing it; only its hash is in the row."""
    return hmac.new(secret.encode(), b"clearinghouse web csrf v1", hashlib.sha256).hexdigest()


def csrf_matches(resolved: Resolved, token: str) -> bool:
    return hmac.compare_digest(resolved.csrf_hash, hash_secret(token))


def open_session(session: Session, user: User, settings: Settings, *, via: str) -> Opened:
    """Insert a session for `user` (already authenticated by the caller) and audit it."""
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        id=new_id("wss"),
        user_id=user.id,
        secret_hash=hash_secret(secret),
        csrf_hash=hash_secret(csrf_token(secret)),
        created_at=now,
        expires_at=now + timedelta(hours=settings.web_session_absolute_hours),
        last_seen_at=now,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        AuditTag.ACCOUNTS_SIGNIN,
        actor=Actor(user.id, user.membership.org_id, None),
        subject_type="web_session",
        subject_id=row.id,
        data={"via": via, "expires_at": row.expires_at.isoformat()},
    )
    return Opened(row.id, secret, row.expires_at)


def resolve(session: Session, secret: str, settings: Settings) -> Resolved:
    """The principal of a cookie's secret, or Unauthenticated (expired, revoked, unknown, or
    the user disabled). `last_seen_at` is touched at most once a minute."""
    if not secret or len(secret) > 100:
        raise TokenInvalid("the session is not valid")
    row = session.scalar(select(WebSession).where(WebSession.secret_hash == hash_secret(secret)))
    if row is None:
        raise TokenInvalid("the session is not valid")
    now = utcnow()
    if row.revoked_at is not None:
        raise TokenRevoked("the session has ended")
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        raise TokenExpired("the session has expired")
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        raise TokenInvalid("the session's user is disabled")
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    org = user.membership.org
    principal = Principal(
        user_id=user.id,
        org_id=org.id,
        org_kind=OrgKind(org.kind),
        role=Role(user.membership.role),
        scopes=SESSION_SCOPES,
        token_id=row.id,  # the audit trail names the session as the acting credential
    )
    return Resolved(principal, row.id, row.csrf_hash)


def revoke(session: Session, resolved: Resolved) -> None:
    row = session.get(WebSession, resolved.session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            AuditTag.ACCOUNTS_SIGNOUT,
            actor=resolved.principal.actor,
            subject_type="web_session",
            subject_id=row.id,
        )


def purge_ended(session: Session, settings: Settings) -> int:
    """Delete the sessions that ended more than `PURGE_GRACE` ago: past their absolute expiry,
    unused for longer than the idle limit, or signed out. Returns how many."""
    cutoff = utcnow() - PURGE_GRACE
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    result = session.execute(
        delete(WebSession).where(
            (WebSession.expires_at < cutoff)
            | (WebSession.last_seen_at < cutoff - idle)
            | (WebSession.revoked_at < cutoff)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- sign-in with a password -----------------------------------------------------------------


def _throttle_key(email: str, client: str) -> str:
    return hash_secret(f"{normal_email(email)}\n{client}")


def _candidates(session: Session, email: str, org_name: str | None) -> list[User]:
    """Users are unique per organisation by e-mail: with an organisation name, at most one
    matches; without one, the e-mail must belong to exactly one user on this instance
    (otherwise the form asks for the organisation: docs/web.md)."""
    query = select(User).where(func.lower(User.email) == normal_email(email))
    users = list(session.scalars(query))
    if org_name:
        wanted = org_name.strip().casefold()
        users = [u for u in users if u.membership.org.name.casefold() == wanted]
    return users


def sign_in(
    db: Database,
    settings: Settings,
    *,
    email: str,
    password: str,
    org_name: str | None,
    client: str,
) -> Opened:
    """Check a password and open a session. A failure is audited and counted (committed) and
    raises SignInRefused, or SignInThrottled past `web_login_max_failures` in the window."""
    with db.transaction() as session:
        outcome = _attempt(
            session, settings, email=email, password=password, org_name=org_name, client=client
        )
    if isinstance(outcome, Opened):
        return outcome
    raise outcome


def _attempt(
    session: Session,
    settings: Settings,
    *,
    email: str,
    password: str,
    org_name: str | None,
    client: str,
) -> Opened | SignInRefused | SignInThrottled:
    key = _throttle_key(email, client)
    now = utcnow()
    since = now - timedelta(seconds=settings.web_login_window_seconds)
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < since))
    failures = session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.key_hash == key)
    )
    if (failures or 0) >= settings.web_login_max_failures:
        return SignInThrottled("too many failed sign-ins; wait a few minutes and try again")
    users = _candidates(session, email, org_name)
    user = users[0] if len(users) == 1 else None
    # Unknown or ambiguous e-mail: verified against a dummy hash, in the same time.
    ok, rehashed = check_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        session.add(LoginFailure(id=new_id("lgf"), key_hash=key, failed_at=now))
        audit.record(
            session,
            AuditTag.ACCOUNTS_SIGNIN_FAIL,
            actor=Actor(None, None, None),
            subject_type="user",
            subject_id=user.id if user else None,
            data={"reason": "ambiguous" if len(users) > 1 else "refused", "client": client[:64]},
        )
        return SignInRefused(
            "the e-mail, organisation or password is wrong"
            + (" (this e-mail is in several organisations: name yours)" if len(users) > 1 else "")
        )
    if rehashed is not None:
        user.password_hash = rehashed
    session.execute(delete(LoginFailure).where(LoginFailure.key_hash == key))
    return open_session(session, user, settings, via="password")


def accept_invitation(db: Database, settings: Settings, code: str, password: str) -> Opened:
    """The invitation page: redeem the code, set the new user's password, and sign them in."""
    digest = hash_password(password)  # a password too short changes nothing
    accepted = invitations.accept_invitation(db, InvitationAccept(code=code), password_hash=digest)
    with db.transaction() as session:
        user = session.get(User, accepted.user_id)
        assert user is not None  # just created, and users are never deleted
        return open_session(session, user, settings, via="invitation")


def set_password(session: Session, p: Principal, user_id: str, password: str) -> None:
    """Set a user's password: one's own, or (an organisation's admin) a member's of one's own
    organisation. A password signs in as that user, so it is authorised exactly as issuing
    that user a token is (`token:create`; policy.py has no password action of its own), and
    nobody sets another organisation's user's password."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    authorize(
        p,
        Action.token_create,
        Target("token", id=None, org_id=user.membership.org_id, user_id=user.id),
    )
    if user.disabled_at is not None:
        raise InvalidInput("the user is disabled", code="user_disabled")
    user.password_hash = hash_password(password)
    audit.record(
        session,
        AuditTag.ACCOUNTS_PASSWORD_SET,
        actor=p.actor,
        subject_type="user",
        subject_id=user.id,
    )


__all__ = [
    "Opened",
    "Resolved",
    "SignInRefused",
    "SignInThrottled",
    "accept_invitation",
    "csrf_matches",
    "csrf_token",
    "open_session",
    "purge_ended",
    "resolve",
    "revoke",
    "set_password",
    "sign_in",
]
