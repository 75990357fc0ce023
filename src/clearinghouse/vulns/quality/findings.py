"""Storing the quality gate's findings with each imported record, and listing them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import osv_id, stored_id
from clearinghouse.vulns.quality.models import ImportFinding
from clearinghouse.vulns.quality.rules import RULES, lint
from clearinghouse.vulns.visibility import VULN_CONDITIONS, known_id

MAX_MESSAGE = 1000


def record_findings(session: Session, source_ids: list[str], *, origin: str) -> int:
    """Replace the findings of the stored records with these source ids with what the rules
    find in them now (the stored document: an older re-import changes nothing), in the
    caller's transaction. Returns how many were stored."""
    stored = session.execute(
        select(Vulnerability.id, Vulnerability.record).where(
            Vulnerability.source_id.in_(source_ids)
        )
    ).all()
    if not stored:
        return 0
    session.execute(delete(ImportFinding).where(ImportFinding.vuln_id.in_([v for v, _ in stored])))
    now = utcnow()
    rows = [
        {
            "id": new_id("imf"),
            "vuln_id": vuln_id,
            "code": f.code,
            "field": f.field[:200],
            "message": f.message[:MAX_MESSAGE],
            "origin": origin,
            "created_at": now,
        }
        for vuln_id, record in stored
        for f in lint(record)
    ]
    if rows:
        session.execute(insert(ImportFinding), rows)
    return len(rows)


class FindingOut(BaseModel):
    id: str
    vuln_id: str  # the record's served OSV id
    code: str
    rule: str
    field: str
    message: str
    origin: str
    created_at: datetime


def list_findings(
    session: Session,
    p: Principal,
    *,
    code: str | None = None,
    vuln_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[FindingOut]:
    """Findings on the records the caller may see (the policy's list scope for records, in
    SQL, so pages are full), filtered by rule code or record, a page at a time."""
    authorize(p, Action.vuln_read, Target("vuln", None, public=True))
    if code is not None and code not in RULES:
        raise InvalidInput(f"unknown rule code {code[:20]!r}", code="rule_unknown")
    query = (
        select(ImportFinding)
        .join(Vulnerability, Vulnerability.id == ImportFinding.vuln_id)
        .where(list_scope(p, "vuln").clause(Vulnerability, VULN_CONDITIONS))
    )
    if code is not None:
        query = query.where(ImportFinding.code == code)
    if vuln_id is not None:
        bare = stored_id(known_id("vulnerability", vuln_id))
        query = query.where(or_(Vulnerability.source_id == bare, Vulnerability.id == bare))
    rows, nxt = paginate(session, query, ImportFinding.id, limit=limit, cursor=cursor)
    source_ids = dict(
        session.execute(
            select(Vulnerability.id, Vulnerability.source_id).where(
                Vulnerability.id.in_({f.vuln_id for f in rows})
            )
        ).all()
    )
    return Page(items=[_out(f, source_ids[f.vuln_id]) for f in rows], next_cursor=nxt)


def _out(f: ImportFinding, source_id: str) -> FindingOut:
    return FindingOut(
        id=f.id,
        vuln_id=osv_id(source_id),
        code=f.code,
        rule=RULES.get(f.code, ("", ""))[0],
        field=f.field,
        message=f.message,
        origin=f.origin,
        created_at=f.created_at,
    )
