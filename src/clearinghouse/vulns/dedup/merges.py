"""Merging duplicates into one alias set (the primary chosen deterministically), and undoing
a merge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.vulns.models import DuplicateCandidate, Merge, Vulnerability
from clearinghouse.vulns.records import reindex, touch
from clearinghouse.vulns.schemas import MergeOut
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import is_public, known_id, load_vuln


def primary_of(vulns: list[Vulnerability]) -> Vulnerability:
    """The deterministic primary of an alias set: a published record before the others, then
    the earliest published, then the lowest id."""
    far = utcnow().replace(year=9999)
    return min(
        vulns,
        key=lambda v: (v.status != VulnStatus.published.value, v.published or far, v.id),
    )


def _merge_out(m: Merge) -> MergeOut:
    return MergeOut(
        id=m.id,
        primary_id=m.primary_id,
        members=m.members,
        undone=m.undone,
        created_at=m.created_at,
    )


def merge(session: Session, p: Principal, vuln_ids: list[str], note: str = "") -> MergeOut:
    """Merge records into one alias set: the primary keeps its id and gains the others' ids as
    aliases; the others become `duplicate` and point at it."""

    ids = sorted(set(vuln_ids))
    if len(ids) < 2:
        raise InvalidInput("a merge needs at least two distinct records", code="merge_too_small")
    vulns = [load_vuln(session, p, i, Action.vuln_merge, for_update=True) for i in ids]
    if len({v.id for v in vulns}) < len(vulns):
        raise InvalidInput("two of the ids name the same record", code="merge_same_record")
    for v in vulns:
        if v.status == VulnStatus.duplicate.value:
            raise Conflict(
                f"{v.id} is already a duplicate of {v.duplicate_of}; undo that merge first",
                code="already_merged",
            )
    primary = primary_of(vulns)
    members = [v for v in vulns if v.id != primary.id]
    now = utcnow()
    prior: dict[str, Any] = {
        "primary_aliases": primary.record.get("aliases", []),
        "members": {v.id: v.status for v in members},
    }
    # Only public members lend their ids to the primary's aliases: the primary may be public,
    # and an embargoed report's id must not appear in a public document.
    now_public = [v for v in members if is_public(v, utcnow())]
    extra = {a for v in now_public for a in (v.source_id, *v.record.get("aliases", []))}
    primary.record = {
        **primary.record,
        "aliases": sorted(set(primary.record.get("aliases", [])) | extra - {primary.source_id}),
    }
    touch(primary, now)
    for v in members:
        v.status, v.duplicate_of = VulnStatus.duplicate.value, primary.id
        touch(v, now)
    session.flush()
    reindex(session, primary)
    member_ids = [v.id for v in vulns]
    for c in session.scalars(
        select(DuplicateCandidate).where(
            and_(
                DuplicateCandidate.vuln_a.in_(member_ids),
                DuplicateCandidate.vuln_b.in_(member_ids),
                DuplicateCandidate.state == "open",
            )
        )
    ):
        c.state, c.decided_by = "merged", p.user_id
    m = Merge(
        id=new_id("mrg"),
        primary_id=primary.id,
        members=[v.id for v in members],
        prior=prior,
        merged_by=p.user_id,
        created_at=now,
    )
    session.add(m)
    session.flush()
    audit.record(
        session,
        AuditTag.VULNS_MERGE_CREATE,
        actor=p.actor,
        subject_type="vuln_merge",
        subject_id=m.id,
        data={"primary": primary.id, "members": m.members, "note": note},
    )
    return _merge_out(m)


def undo_merge(session: Session, p: Principal, merge_id: str) -> MergeOut:

    m = session.get(Merge, known_id("merge", merge_id), with_for_update=True)
    if m is None:
        raise NotFound(f"no merge with id {merge_id!r}")
    primary = load_vuln(session, p, m.primary_id, Action.vuln_merge, for_update=True)
    if m.undone:
        raise Conflict("the merge is already undone", code="merge_undone")
    now = utcnow()
    primary.record = {**primary.record, "aliases": m.prior["primary_aliases"]}
    touch(primary, now)
    for vuln_id, status in m.prior["members"].items():
        v = session.get(Vulnerability, vuln_id, with_for_update=True)
        if v is not None and v.duplicate_of == primary.id:
            v.status, v.duplicate_of = status, None
            touch(v, now)
    session.flush()
    reindex(session, primary)
    everyone = [primary.id, *m.members]
    for c in session.scalars(
        select(DuplicateCandidate).where(
            DuplicateCandidate.vuln_a.in_(everyone),
            DuplicateCandidate.vuln_b.in_(everyone),
            DuplicateCandidate.state == "merged",
        )
    ):
        c.state, c.decided_by = "open", None
    m.undone = True
    audit.record(
        session,
        AuditTag.VULNS_MERGE_UNDO,
        actor=p.actor,
        subject_type="vuln_merge",
        subject_id=m.id,
        data={"primary": primary.id, "members": m.members},
    )
    return _merge_out(m)
