"""The accounts tables: organisations, users, their memberships, API tokens and invitations;
and the organisation kinds, roles and token scopes the policy decides with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clearinghouse.storage.base import Base


class OrgKind(StrEnum):
    lab = "lab"
    evaluator = "evaluator"
    coordinator = "coordinator"
    vendor = "vendor"
    operator = "operator"


class Role(StrEnum):
    admin = "admin"
    member = "member"
    viewer = "viewer"


class Scope(StrEnum):
    read = "read"
    write = "write"


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class User(Base):
    """A person acting for one organisation (see Membership).

    Emails are unique within an organisation, not across the instance: a global constraint
    would tell any organisation's admin, through a conflict, that an address is in use
    somewhere else."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    # argon2id (accounts/passwords.py); None: this user signs in with API tokens only
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)

    membership: Mapped[Membership] = relationship(
        lazy="joined", uselist=False, back_populates="user"
    )


class Membership(Base):
    """A user's place in an organisation.

    A user has exactly one membership: a person who works for two organisations gets two users,
    so that every token acts for exactly one organisation and a lab liaison's token can never
    reach, say, a vendor's cases by accident.
    """

    __tablename__ = "memberships"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="membership")
    org: Mapped[Org] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of its secret part is stored.

    The token has 256 bits of randomness, so a fast hash is enough: there is nothing to brute
    force, unlike a password.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(8))
    scopes: Mapped[list[str]]
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Invitation(Base):
    """How a person joins an organisation: a one-time code, shown once, that expires.

    A coordinator admin invites the first admin of a new organisation; after that only the
    organisation's own admins invite its members. Only the SHA-256 of the code is stored.
    """

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # True when an outsider (a coordinator) invited the organisation's first admin: such an
    # invitation is void once the organisation has an admin.
    first_admin: Mapped[bool]
    created_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_user_id: Mapped[str | None] = mapped_column(String(40))


class WebSession(Base):
    """A browser's sign-in (accounts/web_sessions.py). Only SHA-256 hashes of the cookie's
    secret and of the session's CSRF token are stored: a copy of the table signs no one in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute expiry; the idle one is last_seen_at + idle
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """One failed web sign-in, for the rate limit per e-mail and client address. `key_hash`
    is the SHA-256 of both (no address or e-mail is kept here; the audit trail has them)."""

    __tablename__ = "web_login_failures"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime]
