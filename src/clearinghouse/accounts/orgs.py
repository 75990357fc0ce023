"""Organisations: the coordinator creates them (kind: coordinator, lab, evaluator, ...); who
may see one is the policy's `org` rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.accounts.schemas import OrgCreate, OrgOut
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate


def org_target(org: Org) -> Target:
    return Target("org", id=org.id, org_id=org.id)


def org_out(org: Org) -> OrgOut:
    return OrgOut(id=org.id, name=org.name, kind=OrgKind(org.kind), created_at=org.created_at)


def create_org(session: Session, p: Principal, data: OrgCreate) -> OrgOut:
    authorize(p, Action.org_create)
    org = Org(id=new_id("org"), name=data.name.strip(), kind=data.kind.value, created_at=utcnow())
    session.add(org)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"an organisation named {org.name!r} already exists", code="already_exists"
        ) from exc
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


def names_of(session: Session, org_ids: set[str]) -> dict[str, str]:
    """Organisations' names by id, for ids that a service has already shown the caller (a
    case's participants, an asset's operator): the page prints who, not an opaque id. Never a
    listing: an id the caller was not shown is never asked for."""
    if not org_ids:
        return {}
    query = select(Org.id, Org.name).where(Org.id.in_(sorted(org_ids)))
    return {row[0]: row[1] for row in session.execute(query)}
