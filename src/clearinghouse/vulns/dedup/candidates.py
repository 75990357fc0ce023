"""Duplicate candidates: the scan that proposes pairs (exact rules, then the text index), and
the coordinators' queue of candidates to merge or reject."""

from __future__ import annotations

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, aliased

from clearinghouse.accounts.listing import scoped_select
from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.vulns.dedup.similarity import (
    NearDuplicateIndex,
    build_index,
    cves_of,
    packages_of,
)
from clearinghouse.vulns.models import DuplicateCandidate, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.schemas import CandidateOut
from clearinghouse.vulns.search import filter_text
from clearinghouse.vulns.states import OPEN
from clearinghouse.vulns.visibility import known_id

LIST_LIMIT = 1000  # the most candidates one listing returns


def _exact_pairs(session: Session, ids: list[str]) -> list[tuple[str, str, str, float]]:
    """(id, other, rule, score) by the exact rules, for many records in a few set-based
    queries (one per rule and chunk), not three queries per record."""
    found: list[tuple[str, str, str, float]] = []
    mine, other = aliased(VulnerabilityAlias), aliased(VulnerabilityAlias)
    v1, v2 = aliased(Vulnerability), aliased(Vulnerability)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rules = {
            "alias": select(mine.vuln_id, other.vuln_id)
            .join(other, other.alias == mine.alias)
            .where(mine.vuln_id.in_(chunk), other.vuln_id != mine.vuln_id),
            "package_range_cwe": select(v1.id, v2.id)
            .join(v2, v2.affected_signature == v1.affected_signature)
            .where(v1.id.in_(chunk), v2.id != v1.id),
            "crash": select(v1.id, v2.id)
            .join(v2, v2.crash_signature == v1.crash_signature)
            .where(v1.id.in_(chunk), v2.id != v1.id),
        }
        for rule, query in rules.items():
            found += [(a, b, rule, 1.0) for a, b in session.execute(query.distinct())]
    return found


def scan(session: Session, vuln_ids: list[str], index: NearDuplicateIndex | None = None) -> int:
    """Find and store candidate pairs for the given records; returns how many are new. A pair
    already proposed by the same rule (open, merged or rejected) is not proposed again."""
    if not vuln_ids:
        return 0
    index = index if index is not None else build_index(session)
    pairs = _exact_pairs(session, vuln_ids)
    pkgs, cves = packages_of(session, vuln_ids), cves_of(session, vuln_ids)
    texts = session.execute(
        select(Vulnerability.id, Vulnerability.summary, Vulnerability.details).where(
            Vulnerability.id.in_(vuln_ids)
        )
    ).all()
    for vuln_id, summary, details in texts:
        pairs += [
            (vuln_id, other, "text", score)
            for other, score in index.candidates(
                f"{summary}\n{details}", pkgs[vuln_id], cves[vuln_id], exclude=vuln_id
            )
        ]
    wanted = {(*sorted((a, b)), rule): score for a, b, rule, score in pairs}
    involved = sorted({x for a, b, _ in wanted for x in (a, b)})
    known = set()
    for chunk in (involved[i : i + 500] for i in range(0, len(involved), 500)):
        known |= set(
            session.execute(
                select(
                    DuplicateCandidate.vuln_a, DuplicateCandidate.vuln_b, DuplicateCandidate.rule
                ).where(DuplicateCandidate.vuln_a.in_(chunk))
            ).all()
        )
    now = utcnow()
    rows = [
        {
            "id": new_id("dup"),
            "vuln_a": a,
            "vuln_b": b,
            "rule": rule,
            "score": score,
            "state": "open",
            "decided_by": None,
            "created_at": now,
        }
        for (a, b, rule), score in wanted.items()
        if (a, b, rule) not in known
    ]
    if rows:
        session.execute(insert(DuplicateCandidate), rows)
    return len(rows)


def scan_records(
    session: Session, p: Principal, vuln_ids: list[str], *, all_open: bool = False
) -> dict[str, int]:
    """A coordinator's scan (`vuln:merge`) of the named records, and with `all_open` of every
    record in triage, with its audit event. Returns {scanned, candidates_created}."""
    authorize(p, Action.vuln_merge)
    ids = list(dict.fromkeys(known_id("vulnerability", v) for v in vuln_ids))
    if all_open:
        ids += session.scalars(
            select(Vulnerability.id)
            .where(Vulnerability.status.in_(sorted(s.value for s in OPEN)))
            .order_by(Vulnerability.id)
        ).all()
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidInput("name records to scan, or pass --open", code="nothing_to_scan")
    created = scan(session, ids)
    audit.record(
        session,
        AuditTag.VULNS_DEDUP_SCAN,
        actor=p.actor,
        subject_type="vuln",
        subject_id=None,
        data={"scanned": len(ids), "candidates_created": created, "all_open": all_open},
    )
    return {"scanned": len(ids), "candidates_created": created}


def list_candidates(
    session: Session, p: Principal, *, vuln_id: str | None = None, state: str = "open"
) -> list[CandidateOut]:
    """The queue: candidates in `state` (of one record, with `vuln_id`), best score first, at
    most `LIST_LIMIT`; for those who may merge (`vuln:merge`), filtered by the policy's list
    scope in SQL."""
    authorize(p, Action.vuln_merge)
    filter_text("vuln_id", vuln_id)
    filter_text("state", state)
    query = scoped_select(p, "duplicate_candidate", DuplicateCandidate).where(
        DuplicateCandidate.state == state
    )
    if vuln_id:
        query = query.where(
            or_(DuplicateCandidate.vuln_a == vuln_id, DuplicateCandidate.vuln_b == vuln_id)
        )
    query = query.order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
    rows = session.scalars(query.limit(LIST_LIMIT)).all()
    return [CandidateOut.model_validate(c, from_attributes=True) for c in rows]


def reject_candidate(session: Session, p: Principal, candidate_id: str) -> CandidateOut:
    authorize(p, Action.vuln_merge)
    c = session.get(
        DuplicateCandidate, known_id("duplicate candidate", candidate_id), with_for_update=True
    )
    if c is None:
        raise NotFound(f"no duplicate candidate with id {candidate_id!r}")
    if c.state != "open":
        raise Conflict(f"the candidate is already {c.state}", code="candidate_decided")
    c.state, c.decided_by = "rejected", p.user_id
    audit.record(
        session,
        AuditTag.VULNS_CANDIDATE_REJECT,
        actor=p.actor,
        subject_type="duplicate_candidate",
        subject_id=c.id,
        data={"vuln_a": c.vuln_a, "vuln_b": c.vuln_b, "rule": c.rule},
    )
    return CandidateOut.model_validate(c, from_attributes=True)
