"""Who may see a record: the one definition of "public", TLP, and the policy's view of records.

A record is public when it is published, TLP:CLEAR and out of embargo (`is_public`). The same
rule runs in SQL (`public_clause`) and in the public OSV index (`publishable` for what it
holds, `embargo_over` for what it answers); all three are built from the constants below.
Authorisation itself is decided by `accounts.policy`: one record on the `Target` built here,
listings by its `list_scope("vuln")`, whose named conditions `VULN_CONDITIONS` spells in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, not_, or_, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import (
    Action,
    Condition,
    Principal,
    Target,
    authorize,
    list_scope,
)
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.schemas import unstorable_text
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias, VulnerabilityReport
from clearinghouse.vulns.states import VulnStatus

PUBLIC_STATUS = VulnStatus.published
PUBLIC_TLP = Tlp.clear


def publishable(status: str, tlp: str) -> bool:
    """Published and TLP:CLEAR: public once its embargo, if any, is over."""
    return status == PUBLIC_STATUS and tlp == PUBLIC_TLP


def embargo_over(embargo_until: datetime | None, now: datetime) -> bool:
    return embargo_until is None or embargo_until <= now


def is_public(vuln: Vulnerability, now: datetime) -> bool:
    """Anyone, signed in or not, may read the record."""
    return publishable(vuln.status, vuln.tlp) and embargo_over(vuln.embargo_until, now)


def public_clause(now: datetime) -> Any:
    """`is_public` as a SQL condition on `Vulnerability`."""
    return (
        (Vulnerability.status == PUBLIC_STATUS.value)
        & (Vulnerability.tlp == PUBLIC_TLP.value)
        & or_(Vulnerability.embargo_until.is_(None), Vulnerability.embargo_until <= now)
    )


def _public(value: object) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = public_clause(utcnow())
    return clause if value else not_(clause)


def _reported_by(org_id: object) -> ColumnElement[bool]:
    return Vulnerability.id.in_(
        select(VulnerabilityReport.vuln_id).where(VulnerabilityReport.reporter_org_id == org_id)
    )


# The SQL of the conditions the policy names in `list_scope(p, "vuln")` (what `can_see` checks
# on a record's `Target`: `public`, and the organisation among `reporter_org_ids`).
VULN_CONDITIONS: Mapping[str, Condition] = {"public": _public, "reported_by_org": _reported_by}


def known_id(kind: str, value: str) -> str:
    """`value` as an id to look up, or NotFound when it holds what no stored id can (NUL, lone
    surrogates, as non-UTF-8 bytes in argv become): the database driver would fail on it."""
    if unstorable_text(value) is not None:
        raise NotFound(f"no {kind} with that id")
    return value


def _target(session: Session, vuln: Vulnerability) -> Target:
    """The policy's view of one record: whether it is public, and who reported it."""
    reporters = session.scalars(
        select(VulnerabilityReport.reporter_org_id).where(VulnerabilityReport.vuln_id == vuln.id)
    )
    return Target(
        "vuln",
        vuln.id,
        public=is_public(vuln, utcnow()),
        reporter_org_ids=frozenset(org for org in reporters if org is not None),
    )


def visible_duplicate_of(
    session: Session, p: Principal, vulns: list[Vulnerability]
) -> dict[str, str]:
    """record id → the id of the record it was merged into, only where the caller may see
    that record (the policy's list scope, in SQL): an id of another organisation's embargoed
    record must not reach a reporter whose own report was merged into it."""
    primary_ids = sorted({v.duplicate_of for v in vulns if v.duplicate_of})
    if not primary_ids:
        return {}
    visible = set(
        session.scalars(
            select(Vulnerability.id).where(
                Vulnerability.id.in_(primary_ids),
                list_scope(p, "vuln").clause(Vulnerability, VULN_CONDITIONS),
            )
        )
    )
    return {v.id: v.duplicate_of for v in vulns if v.duplicate_of in visible}


def load_vuln(
    session: Session, p: Principal, vuln_id: str, action: Action, *, for_update: bool = False
) -> Vulnerability:
    """A record by our id, its source id or any alias; NotFound if the caller may not see it."""
    known_id("vulnerability", vuln_id)
    query = (
        select(Vulnerability)
        .join(VulnerabilityAlias, VulnerabilityAlias.vuln_id == Vulnerability.id)
        .where(VulnerabilityAlias.alias == vuln_id)
        # After a merge an id may also be an alias of the primary: the record itself wins.
        .order_by(Vulnerability.id != vuln_id, Vulnerability.source_id != vuln_id, Vulnerability.id)
        .limit(1)
    )
    if for_update:
        query = query.with_for_update(of=Vulnerability)
    vuln = session.scalar(query)
    if vuln is None:
        raise NotFound(f"no vulnerability with id {vuln_id!r}")
    try:
        authorize(p, action, _target(session, vuln))
    except NotFound:
        # Exactly as for an unknown id: the policy's message names the record's own id, which
        # would tell a caller who asked by alias which embargoed record it is (issue 14 leak).
        raise NotFound(f"no vulnerability with id {vuln_id!r}") from None
    return vuln


def report_target(report: VulnerabilityReport) -> Target:
    """The policy's view of one report: who reported it."""
    return Target(
        "vuln_report",
        report.id,
        reporter_org_ids=frozenset({report.reporter_org_id} - {None}),  # type: ignore[arg-type]
    )


def load_report(
    session: Session,
    p: Principal,
    report_id: str,
    action: Action,
    *,
    for_update: bool = False,
) -> VulnerabilityReport:
    """A report by id, authorised for `action`; NotFound if the caller may not see it."""
    report = session.get(
        VulnerabilityReport, known_id("vuln_report", report_id), with_for_update=for_update
    )
    if report is None:
        raise NotFound(f"no vuln_report with id {report_id!r}")
    authorize(p, action, report_target(report))
    return report
