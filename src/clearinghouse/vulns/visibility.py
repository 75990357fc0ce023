"""Who may see a record: the one definition of "public", TLP, and the policy's view of records.

A record is public when it is published, TLP:CLEAR and out of embargo (`is_public`). The same
rule runs in SQL (`public_clause`) and in the public OSV index (`publishable` for what it
holds, `embargo_over` for what it answers); all three are built from the constants below.
Authorisation itself is decided by `accounts.policy` on the `Target`s built here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, can_see
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.schemas import unstorable_text
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias, VulnerabilityReport
from clearinghouse.vulns.states import VulnStatus


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 labels."""

    clear = "CLEAR"
    green = "GREEN"
    amber = "AMBER"
    amber_strict = "AMBER+STRICT"
    red = "RED"

    @classmethod
    def of_label(cls, label: object) -> Tlp:
        """The label an imported document carries; TLP 1.0's WHITE (CSAF 2.0) is CLEAR, and
        an unknown label is treated as the most restrictive, RED."""
        text = str(label or "CLEAR").upper()
        text = _TLP1.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return cls.red


# CSAF 2.0 carries TLP 1.0 labels; WHITE became CLEAR in TLP 2.0.
_TLP1 = {"WHITE": "CLEAR"}

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


def known_id(kind: str, value: str) -> str:
    """`value` as an id to look up, or NotFound when it holds what no stored id can (NUL, lone
    surrogates, as non-UTF-8 bytes in argv become): the database driver would fail on it."""
    if unstorable_text(value) is not None:
        raise NotFound(f"no {kind} with that id")
    return value


def _reporters(session: Session, vuln_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = session.execute(
        select(VulnerabilityReport.vuln_id, VulnerabilityReport.reporter_org_id).where(
            VulnerabilityReport.vuln_id.in_(vuln_ids)
        )
    )
    for vuln_id, org_id in rows:
        if org_id:
            out.setdefault(vuln_id, set()).add(org_id)
    return out


def targets(session: Session, vulns: list[Vulnerability]) -> dict[str, Target]:
    """The policy's view of each record (one query for the reporters of all of them)."""
    reporters = _reporters(session, [v.id for v in vulns])
    now = utcnow()
    return {
        v.id: Target(
            "vuln",
            v.id,
            public=is_public(v, now),
            reporter_org_ids=frozenset(reporters.get(v.id, set())),
        )
        for v in vulns
    }


def _target(session: Session, vuln: Vulnerability) -> Target:
    return targets(session, [vuln])[vuln.id]


def visible_duplicate_of(
    session: Session, p: Principal, vulns: list[Vulnerability]
) -> dict[str, str]:
    """record id → the id of the record it was merged into, only where the caller may see
    that record: an id of another organisation's embargoed record must not reach a reporter
    whose own report was merged into it."""
    primary_ids = {v.duplicate_of for v in vulns if v.duplicate_of}
    if not primary_ids:
        return {}
    primaries = session.scalars(
        select(Vulnerability).where(Vulnerability.id.in_(sorted(primary_ids)))
    ).all()
    visible = {vid for vid, t in targets(session, list(primaries)).items() if can_see(p, t)}
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
    authorize(p, action, _target(session, vuln))
    return vuln


def visible_clause(p: Principal) -> Any:
    if p.is_system or p.is_kind(OrgKind.coordinator):
        return true()
    reported = select(VulnerabilityReport.vuln_id).where(
        VulnerabilityReport.reporter_org_id == p.org_id
    )
    return or_(public_clause(utcnow()), Vulnerability.id.in_(reported))
