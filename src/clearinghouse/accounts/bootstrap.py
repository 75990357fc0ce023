"""The first start of an instance: the coordinator organisation, its admin and that admin's
token, created by the system once, while no organisation exists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind, Role
from clearinghouse.accounts.orgs import create_org
from clearinghouse.accounts.policy import Principal
from clearinghouse.accounts.schemas import BootstrapResult, OrgCreate, TokenCreate, UserCreate
from clearinghouse.accounts.tokens import issue_token
from clearinghouse.accounts.users import create_user
from clearinghouse.core.errors import Conflict
from clearinghouse.storage.db import lock


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
