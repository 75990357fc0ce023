"""Builds organisations, users and tokens through the real services (no fixtures in SQL)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.orgs import create_org
from clearinghouse.accounts.policy import Principal
from clearinghouse.accounts.schemas import OrgCreate, TokenCreate, UserCreate
from clearinghouse.accounts.tokens import authenticate, issue_token
from clearinghouse.accounts.users import create_user
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.reviews.agreements import create_agreement
from clearinghouse.reviews.schemas import AgreementCreate, SubmissionCreate
from clearinghouse.reviews.submissions import create_submission

_counter = itertools.count()


@dataclass
class Member:
    org_id: str
    user_id: str
    token: str
    kind: OrgKind
    role: Role

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    services: Services
    members: dict[tuple[str, OrgKind, Role], Member] = field(default_factory=dict)

    def org(self, kind: OrgKind, name: str | None = None) -> str:
        with self.services.db.transaction() as s:
            return create_org(
                s, Principal.system(), OrgCreate(name=name or f"{kind}-{next(_counter)}", kind=kind)
            ).id

    def member(
        self, org_id: str, kind: OrgKind, role: Role, scopes: list[str] | None = None
    ) -> Member:
        with self.services.db.transaction() as s:
            user = create_user(
                s,
                Principal.system(),
                UserCreate(org_id=org_id, email=f"u{next(_counter)}@example.org", role=role),
            )
            token = issue_token(
                s,
                Principal.system(),
                TokenCreate(user_id=user.id, **({"scopes": scopes} if scopes else {})),
            )
        return Member(org_id, user.id, token.token, kind, role)

    def agreement(self, lab_org_id: str) -> str:
        with self.services.db.transaction() as s:
            return create_agreement(
                s,
                Principal.system(),
                AgreementCreate(
                    lab_org_id=lab_org_id,
                    scope="cyber capabilities",
                    confidentiality_terms="TLP:AMBER+STRICT",
                    retention_days=30,
                ),
            ).id

    def submission(
        self,
        agreement_id: str,
        lab_member: Member,
        evaluator_org_id: str,
        *,
        endpoint_url: str = "http://127.0.0.1:9/v1",
        api_key: str = "sk-test-0123456789abcdef",
        release_in: timedelta = timedelta(days=45),
    ) -> str:
        with self.services.db.transaction() as s:
            p = authenticate(s, lab_member.token)
            return create_submission(
                s,
                p,
                self.services.vault,
                self.services.settings,
                SubmissionCreate(
                    agreement_id=agreement_id,
                    model_name="frontier-x",
                    model_version="1.0",
                    planned_release_at=utcnow() + release_in,
                    endpoint_url=endpoint_url,
                    api_key=api_key,
                    evaluator_org_id=evaluator_org_id,
                ),
            ).id  # type: ignore[arg-type]
