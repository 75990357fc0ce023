"""Reading the knowledge base: listing, filtering and full-text search of the records a caller
may see, and one record in detail."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy import text as text_clause
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_select
from clearinghouse.accounts.policy import Action, Principal, list_scope
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.pagination import paginate
from clearinghouse.core.schemas import unstorable_text
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns import scoring, validations
from clearinghouse.vulns.catalog import cwe_names, is_cwe_id, kev_flags
from clearinghouse.vulns.models import (
    AffectedPackage,
    KevEntry,
    Vulnerability,
    VulnerabilityAlias,
    VulnerabilityReport,
)
from clearinghouse.vulns.records import normalise_name
from clearinghouse.vulns.schemas import (
    CweOut,
    KevOut,
    SeverityOut,
    VulnOut,
    VulnPage,
    VulnSummaryOut,
)
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import (
    VULN_CONDITIONS,
    load_vuln,
    visible_duplicate_of,
)


def filter_text(name: str, value: str | None) -> str | None:
    """A text filter, refused (`filter_invalid`) when no database could compare it."""
    if value is not None and (reason := unstorable_text(value)) is not None:
        raise InvalidInput(f"{name}: {reason}", code="filter_invalid")
    return value


def _summary(vuln: Vulnerability, kev: bool, duplicate_of: str | None) -> VulnSummaryOut:
    """The summary of a record; `duplicate_of` as the caller may see it
    (`visible_duplicate_of`), never the column as it is."""
    doc = vuln.record
    return VulnSummaryOut(
        id=vuln.id,
        source_id=vuln.source_id,
        summary=vuln.summary,
        status=VulnStatus(vuln.status),
        tlp=Tlp(vuln.tlp),
        origin=vuln.origin,
        aliases=sorted({*doc.get("aliases", []), vuln.source_id} - {vuln.id}),
        ecosystems=sorted(
            {a["package"]["ecosystem"] for a in doc.get("affected", []) if a.get("package")}
        ),
        cwe_ids=vuln.cwe_ids,
        kev=kev,
        embargo_until=vuln.embargo_until,
        published=vuln.published,
        modified=vuln.modified,
        duplicate_of=duplicate_of,
    )


def _search_clause(session: Session, text: str) -> Any:
    words = re.findall(r"\w+", text)[:20]
    if not words:
        raise InvalidInput("the search needs at least one word", code="search_empty")
    if session.get_bind().dialect.name == "sqlite":
        match = " ".join('"' + w.replace('"', "") + '"' for w in words)
        ids = text_clause(
            "SELECT vuln_id FROM vulnerabilities_fts WHERE vulnerabilities_fts MATCH :m"
        )
        return Vulnerability.id.in_(ids.bindparams(m=match).columns(vuln_id=String))
    vector = func.to_tsvector("english", Vulnerability.summary + " " + Vulnerability.details)
    return vector.op("@@")(func.plainto_tsquery("english", " ".join(words)))


def list_vulns(
    session: Session,
    p: Principal,
    *,
    q: str | None = None,
    status: VulnStatus | None = None,
    ecosystem: str | None = None,
    package: str | None = None,
    cwe: str | None = None,
    kev: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> VulnPage:
    """Records the caller may see (the policy's list scope, in SQL), filtered and searched, a
    page at a time (by id)."""
    for name, value in (("q", q), ("ecosystem", ecosystem), ("package", package), ("cwe", cwe)):
        filter_text(name, value)
    query = scoped_select(p, "vuln", Vulnerability, conditions=VULN_CONDITIONS)
    if q:
        query = query.where(_search_clause(session, q))
    if status is not None:
        query = query.where(Vulnerability.status == status.value)
    if ecosystem or package:
        pkg = select(AffectedPackage.vuln_id)
        if ecosystem:
            pkg = pkg.where(AffectedPackage.ecosystem == ecosystem)
        if package:
            pkg = pkg.where(AffectedPackage.name == normalise_name(ecosystem or "", package))
        query = query.where(Vulnerability.id.in_(pkg))
    if cwe:
        query = query.where(_cwe_clause(cwe))
    if kev is not None:
        flagged = select(VulnerabilityAlias.vuln_id).join(
            KevEntry, KevEntry.cve_id == VulnerabilityAlias.alias
        )
        query = query.where(
            Vulnerability.id.in_(flagged) if kev else Vulnerability.id.not_in(flagged)
        )
    rows, next_cursor = paginate(session, query, Vulnerability.id, limit=limit, cursor=cursor)
    flags = kev_flags(session, [v.id for v in rows])
    links = visible_duplicate_of(session, p, list(rows))
    return VulnPage(
        items=[_summary(v, v.id in flags, links.get(v.id)) for v in rows], next_cursor=next_cursor
    )


def _cwe_clause(cwe: str) -> Any:
    if not is_cwe_id(cwe):
        raise InvalidInput("cwe must look like CWE-79", code="cwe_invalid")
    # JSON arrays are stored as text on SQLite and jsonb on PostgreSQL; match the element.
    return func.coalesce(cast(Vulnerability.cwe_ids, String), "").like(f'%"{cwe}"%')


def vuln_detail(session: Session, p: Principal, vuln_id: str) -> VulnOut:
    vuln = load_vuln(session, p, vuln_id, Action.vuln_read)
    kev = kev_flags(session, [vuln.id]).get(vuln.id, [])
    names = cwe_names(session, vuln.cwe_ids)
    severity = []
    for s in vuln.record.get("severity", []):
        try:
            scored = scoring.score(s["score"])
            severity.append(
                SeverityOut(
                    type=s["type"],
                    vector=s["score"],
                    base_score=scored.base_score,
                    severity=scored.severity,
                )
            )
        except InvalidInput:
            severity.append(
                SeverityOut(type=s["type"], vector=s["score"], base_score=None, severity=None)
            )
    # The reports behind the record, only those the caller may see: a public record born of
    # a report does not name that report to other organisations.
    reports = session.scalars(
        select(VulnerabilityReport.id)
        .where(
            VulnerabilityReport.vuln_id == vuln.id,
            list_scope(p, "vuln_report").clause(VulnerabilityReport),
        )
        .order_by(VulnerabilityReport.id)
    ).all()
    summary = _summary(vuln, bool(kev), visible_duplicate_of(session, p, [vuln]).get(vuln.id))
    # The latest validation of those reports (issue 11), if any.
    validated = sorted(
        validations.latest(session, list(reports)).values(),
        key=lambda v: (v.created_at, v.id),
    )
    return VulnOut(
        **summary.model_dump(),
        details=vuln.details,
        record=vuln.record,
        severity=severity,
        cwes=[CweOut(id=c, name=names.get(c)) for c in vuln.cwe_ids],
        kev_entries=[KevOut.model_validate(k, from_attributes=True) for k in kev],
        reports=list(reports),
        crash_signature=vuln.crash_signature,
        validation=validated[-1] if validated else None,
    )
