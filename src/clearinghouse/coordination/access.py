"""The policy's view of cases and their items, and the SQL of its named conditions. Every
read and write of a case goes through `load_case`; every listing of its items through
`item_clause`, so nothing reaches a caller that `accounts.policy` would not show one by one."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import (
    Action,
    Condition,
    Principal,
    Target,
    authorize,
    case_item_scope,
)
from clearinghouse.coordination.models import Audience, Case, Participant
from clearinghouse.core.errors import NotFound
from clearinghouse.core.schemas import unstorable_text


def parties(session: Session, case_id: str) -> frozenset[tuple[str, str]]:
    rows = session.execute(
        select(Participant.org_id, Participant.role).where(Participant.case_id == case_id)
    )
    return frozenset((org, role) for org, role in rows)


def case_target(session: Session, case: Case) -> Target:
    return Target("case", case.id, tlp=case.tlp, case_parties=parties(session, case.id))


def item_target(
    case: Target,
    kind: str,
    item_id: str,
    tlp: str,
    author_org_id: str | None,
    recipients: list[str],
) -> Target:
    return Target(
        kind,
        item_id,
        org_id=author_org_id,
        tlp=tlp,
        recipient_org_ids=frozenset(recipients),
        case_parties=case.case_parties,
    )


def load_case(
    session: Session, p: Principal, case_id: str, action: Action, *, for_update: bool = False
) -> tuple[Case, Target]:
    """The case and its policy target, authorised for `action`; NotFound (404) for a case the
    caller may not see, exactly as for an unknown id."""
    if unstorable_text(case_id) is not None:
        raise NotFound("no case with that id")
    case = session.get(Case, case_id, with_for_update=for_update)
    if case is None:
        raise NotFound(f"no case with id {case_id!r}")
    target = case_target(session, case)
    authorize(p, action, target)
    return case, target


def _participant_org(org_id: object) -> ColumnElement[bool]:
    return Case.id.in_(select(Participant.case_id).where(Participant.org_id == org_id))


# The SQL of the condition `list_scope(p, "case")` names (what `can_see` checks on a case's
# `Target`: the organisation among its parties).
CASE_CONDITIONS: Mapping[str, Condition] = {"participant_org": _participant_org}


def item_clause(p: Principal, case: Target, kind: str, model: type) -> ColumnElement[bool]:
    """The policy's `case_item_scope` as the SQL filter on `model` (a message, artifact or
    timeline event table with `id` and `tlp`)."""

    def tlp_in(labels: object) -> ColumnElement[bool]:
        return model.tlp.in_(list(labels))  # type: ignore[attr-defined,call-overload,no-any-return]

    def red_for_org(org_id: object) -> ColumnElement[bool]:
        return (model.tlp == "RED") & model.id.in_(  # type: ignore[attr-defined,no-any-return]
            select(Audience.item_id).where(Audience.org_id == org_id)
        )

    scope = case_item_scope(p, case, kind)
    return scope.clause(model, {"tlp_in": tlp_in, "red_for_org": red_for_org})


def add_audience(session: Session, item_id: str, tlp: str, orgs: list[str | None]) -> None:
    """For a TLP:RED item: the organisations that may read it."""
    if tlp != "RED":
        return
    for org in sorted({o for o in orgs if o}):
        session.add(Audience(item_id=item_id, org_id=org))
