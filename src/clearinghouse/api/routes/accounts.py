"""HTTP routes of accounts: organisations, invitations, users, tokens."""

from __future__ import annotations

from fastapi import APIRouter

from clearinghouse.accounts import invitations, orgs, tokens, users
from clearinghouse.accounts.schemas import (
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
from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["accounts"])


@router.post("/orgs", status_code=201, response_model=OrgOut)
def create_org(body: OrgCreate, p: PrincipalDep, session: SessionDep) -> OrgOut:
    return orgs.create_org(session, p, body)


@router.get("/orgs", response_model=Page[OrgOut])
def list_orgs(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[OrgOut]:
    return orgs.list_orgs(session, p, limit=limit, cursor=cursor)


@router.get("/orgs/{org_id}", response_model=OrgOut)
def get_org(org_id: Id, p: PrincipalDep, session: SessionDep) -> OrgOut:
    return orgs.get_org(session, p, org_id)


@router.post("/orgs/{org_id}/invitations", status_code=201, response_model=InvitationIssued)
def create_invitation(
    org_id: Id, body: InvitationCreate, p: PrincipalDep, session: SessionDep
) -> InvitationIssued:
    """Invite a person into an organisation. The `code` is shown once and cannot be retrieved
    again. A coordinator admin may invite only the first admin of an organisation that has none;
    after that, the organisation's admins invite its members."""
    return invitations.create_invitation(session, p, org_id, body)


@router.get("/orgs/{org_id}/invitations", response_model=Page[InvitationOut])
def list_invitations(
    org_id: Id, p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[InvitationOut]:
    return invitations.list_invitations(session, p, org_id, limit=limit, cursor=cursor)


@router.post("/invitations/accept", status_code=201, response_model=InvitationAccepted)
def accept_invitation(body: InvitationAccept, svc: ServicesDep) -> InvitationAccepted:
    """Redeem an invitation code (no token): creates the user and returns their first token,
    once. A code works once and expires."""
    return invitations.accept_invitation(svc.db, body)


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserCreate, p: PrincipalDep, session: SessionDep) -> UserOut:
    return users.create_user(session, p, body)


@router.get("/users", response_model=Page[UserOut])
def list_users(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[UserOut]:
    return users.list_users(session, p, limit=limit, cursor=cursor)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: Id, p: PrincipalDep, session: SessionDep) -> UserOut:
    return users.get_user(session, p, user_id)


@router.post("/tokens", status_code=201, response_model=TokenIssued)
def create_token(body: TokenCreate, p: PrincipalDep, session: SessionDep) -> TokenIssued:
    """Issue a token. The `token` field is shown once and cannot be retrieved again."""
    return tokens.issue_token(session, p, body)


@router.get("/tokens", response_model=Page[TokenOut])
def list_tokens(
    p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[TokenOut]:
    return tokens.list_tokens(session, p, limit=limit, cursor=cursor)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: Id, p: PrincipalDep, session: SessionDep) -> TokenOut:
    return tokens.revoke_token(session, p, token_id)
