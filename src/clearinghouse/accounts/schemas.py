"""What the accounts API and CLI accept and return (pydantic)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from clearinghouse.accounts.models import OrgKind, Role, Scope
from clearinghouse.core.schemas import Input


class OrgCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind


class OrgOut(BaseModel):
    id: str
    name: str
    kind: OrgKind
    created_at: datetime


class UserCreate(Input):
    org_id: str = Field(min_length=1, max_length=40)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role


class UserOut(BaseModel):
    id: str
    email: str
    org_id: str
    role: Role
    created_at: datetime


class TokenCreate(Input):
    user_id: str = Field(min_length=1, max_length=40)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.read, Scope.write], min_length=1)
    expires_in_days: int = Field(default=90, ge=1, le=366)
    description: str = Field(default="", max_length=200)


class TokenOut(BaseModel):
    """A token's metadata. The secret itself is never returned after creation."""

    id: str
    user_id: str
    scopes: list[Scope]
    hint: str
    description: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenOut):
    """Returned once, at creation: `token` is the bearer secret and cannot be shown again."""

    token: str


class BootstrapResult(BaseModel):
    org_id: str
    user_id: str
    token: str


class InvitationCreate(Input):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role
    expires_in_days: int = Field(default=7, ge=1, le=30)


class InvitationIssued(BaseModel):
    """Returned once, at creation: `code` is the one-time secret and cannot be shown again."""

    id: str
    org_id: str
    email: str
    role: Role
    code: str
    expires_at: datetime


class InvitationOut(BaseModel):
    id: str
    org_id: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationAccept(Input):
    code: str = Field(min_length=1, max_length=200)


class InvitationAccepted(BaseModel):
    """The new user and their first token (shown once)."""

    user_id: str
    org_id: str
    token: str
