"""Vulnerability reports: a claim (from an AI model, an eval run or a human) becomes a record in
the triage queue, under embargo, with its proof of concept sealed."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_select
from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.storage import jobs
from clearinghouse.storage.vault import Vault
from clearinghouse.vulns import scoring, screening, validations
from clearinghouse.vulns.catalog import cwe_ids_of
from clearinghouse.vulns.conventions import normalise_record
from clearinghouse.vulns.models import CweEntry, Vulnerability, VulnerabilityReport
from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.purls import PURL_ECOSYSTEMS, package_of, parse_purl, purl_for
from clearinghouse.vulns.records import affected_signature, next_id, reindex
from clearinghouse.vulns.schemas import ReportCreate, ReportOut
from clearinghouse.vulns.source_trees import SourceTrees
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import load_report


def _report_out(r: VulnerabilityReport, status: str) -> ReportOut:
    return ReportOut(
        id=r.id,
        vuln_id=r.vuln_id,
        status=VulnStatus(status),
        reporter_org_id=r.reporter_org_id,
        provenance=r.provenance,
        model_name=r.model_name,
        model_version=r.model_version,
        eval_run_id=r.eval_run_id,
        target_purl=r.target_purl,
        target_repo=r.target_repo,
        target_commit=r.target_commit,
        claimed_cwe=r.claimed_cwe,
        claimed_cvss=r.claimed_cvss,
        poc_filename=r.poc_filename,
        poc_sha256=r.poc_sha256,
        created_at=r.created_at,
    )


def _report_record(vuln_id: str, data: ReportCreate, now: datetime) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    affected = []
    pkg = None
    if data.target.purl:
        purl = parse_purl(data.target.purl)  # PurlInvalid: code purl_invalid
        pkg = package_of(purl)
        generic = purl.type == "generic"
        if pkg is None and not generic:
            raise InvalidInput(
                f"target purl {data.target.purl!r} is not a purl of a known ecosystem "
                f"({', '.join(sorted(PURL_ECOSYSTEMS))})",
                code="target_invalid",
            )
    if pkg is not None:
        ecosystem, name, version = pkg
        entry: dict[str, Any] = {
            "package": {
                "ecosystem": ecosystem,
                "name": name,
                "purl": purl_for(ecosystem, name),
            }
        }
        if version:
            entry["versions"] = [version]
        affected.append(entry)
    commit = data.target.commit
    if data.target.repository_url and commit and len(commit) in (40, 64):
        # A GIT range from the commit the report was made at: commit queries match it. It is
        # not a bisected origin (`introduced` says "affected from here on, until a fix is
        # known"), and database_specific.target keeps what the reporter said. A short hash is
        # no OSV commit, so it stays only there.
        affected.append(
            {
                "ranges": [
                    {
                        "type": "GIT",
                        "repo": data.target.repository_url,
                        "events": [{"introduced": commit}],
                    }
                ]
            }
        )
    severity = []
    if data.claimed_cvss:
        scored = scoring.score(data.claimed_cvss)
        severity.append(
            {"type": "CVSS_V4" if scored.version == "4.0" else "CVSS_V3", "score": scored.vector}
        )
    record: dict[str, Any] = {
        "schema_version": "1.7.0",
        "id": vuln_id,
        "modified": stamp,
        "summary": data.title,
        "details": data.description,
        "affected": affected,
        "severity": severity,
        "references": (
            [{"type": "PACKAGE", "url": data.target.repository_url}]
            if data.target.repository_url
            else []
        ),
        "database_specific": {
            "cwe_ids": [data.claimed_cwe] if data.claimed_cwe else [],
            "target": data.target.model_dump(exclude_none=True),
        },
    }
    # In OSV's conventions, as an imported record is (Go versions without the leading "v").
    return normalise_record({k: v for k, v in record.items() if v != []})


@dataclass(frozen=True)
class EvalRunRef:
    """What vulns may know of an eval run: that it exists, and whose it is."""

    id: str
    evaluator_org_id: str | None


class EvalRuns(Protocol):
    """The eval runs a report may name. vulns imports no evals code (and its table holds no
    foreign key into the eval tables): the evals domain implements this
    (`clearinghouse.evals.runs.services.RUNS`), and the shells and the worker pass it in."""

    def find(self, session: Session, run_id: str) -> EvalRunRef | None:
        """The run, or None when there is none."""
        ...

    def finding_run(self, session: Session, finding_id: str) -> str | None:
        """The run that staged this finding (a `report_vulnerability` call), or None."""
        ...


class NoEvalRuns:
    """Knows no run: a report that names one is refused. The default, so that a caller that
    does not pass the evals domain's directory fails closed."""

    def find(self, session: Session, run_id: str) -> EvalRunRef | None:
        return None

    def finding_run(self, session: Session, finding_id: str) -> str | None:
        return None


NO_EVAL_RUNS = NoEvalRuns()


def submit_report(
    session: Session,
    p: Principal,
    vault: Vault,
    data: ReportCreate,
    *,
    runs: EvalRuns = NO_EVAL_RUNS,
    eval_report_id: str | None = None,
    trees: SourceTrees | None = None,
) -> ReportOut:
    """Take in a vulnerability report: the claim becomes a record in status `new` (the triage
    queue), under embargo and TLP:AMBER+STRICT unless the reporter asks for less.

    A report that names an eval run must name a run of the reporter's organisation (any run,
    for the system), as `runs` knows them; `eval_report_id` (the finding the run staged, set by
    `intake/findings.py`) must be one of that run's.

    The report's triage signals are computed now (`vulns/screening.py`): grounded against a
    kept source tree of the same target when `trees` has one, else unknown until a recipe is
    validated."""
    authorize(p, Action.vuln_report_create)
    cwe_list_loaded = session.scalar(select(CweEntry.id).limit(1)) is not None
    if data.claimed_cwe and cwe_list_loaded:
        if session.get(CweEntry, int(data.claimed_cwe[4:])) is None:
            raise InvalidInput(f"{data.claimed_cwe} is not in the CWE list", code="cwe_unknown")
    run_id = data.provenance.eval_run_id
    if run_id:
        run = runs.find(session, run_id)
        if run is None or (p.org_id is not None and run.evaluator_org_id != p.org_id):
            raise InvalidInput("eval_run_id is not a run of your organisation", code="run_unknown")
    if eval_report_id is not None and (
        run_id is None or runs.finding_run(session, eval_report_id) != run_id
    ):
        raise InvalidInput("the finding is not one of the run's", code="finding_unknown")
    try:
        poc = base64.b64decode(data.poc.content_base64, validate=True) if data.poc else None
    except ValueError:
        raise InvalidInput("poc.content_base64 is not base64", code="poc_invalid") from None
    now = utcnow()
    vuln = Vulnerability(id=next_id(session, now.year), status=VulnStatus.new.value, created_at=now)
    vuln.source_id = vuln.id
    doc = _report_record(vuln.id, data, now)
    Record.model_validate(doc)  # our own converter's output: a failure here is a bug
    vuln.record, vuln.summary, vuln.details = doc, data.title, data.description
    vuln.tlp = data.tlp.value
    vuln.embargo_until = now + timedelta(days=data.embargo_days) if data.embargo_days else None
    vuln.modified = vuln.updated_at = now
    vuln.origin = "report"
    vuln.cwe_ids = cwe_ids_of(doc)
    vuln.affected_signature = affected_signature(doc)
    session.add(vuln)
    session.flush()
    reindex(session, vuln)
    report = VulnerabilityReport(
        id=new_id("vrp"),
        vuln_id=vuln.id,
        reporter_org_id=p.org_id,
        reporter_user_id=p.user_id,
        provenance=data.provenance.kind,
        model_name=data.provenance.model_name,
        model_version=data.provenance.model_version,
        eval_run_id=data.provenance.eval_run_id,
        eval_report_id=eval_report_id,
        target_purl=data.target.purl,
        target_repo=data.target.repository_url,
        target_commit=data.target.commit,
        claimed_cwe=data.claimed_cwe,
        claimed_cvss=data.claimed_cvss,
        created_at=now,
    )
    if poc is not None and data.poc is not None:
        report.poc_sealed_id = vault.seal(session, poc, purpose="vuln-report:poc").id
        report.poc_filename = data.poc.filename
        report.poc_sha256 = hashlib.sha256(poc).hexdigest()
    session.add(report)
    session.flush()
    screening.at_intake(session, report, vuln, trees)
    jobs.enqueue(session, "vulns.scan_duplicates", {"vuln_ids": [vuln.id]})
    audit.record(
        session,
        AuditTag.VULNS_REPORT_CREATE,
        actor=p.actor,
        subject_type="vuln_report",
        subject_id=report.id,
        data={"vuln_id": vuln.id, "provenance": report.provenance, "tlp": vuln.tlp},
    )
    return _report_out(report, vuln.status)


def list_reports(
    session: Session,
    p: Principal,
    *,
    status: VulnStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ReportOut]:
    """The triage queue: the reports the caller may see (the policy's list scope, in SQL;
    coordinators: every report; others: their organisation's)."""
    query = scoped_select(p, "vuln_report", VulnerabilityReport)
    if status is not None:
        query = query.where(
            VulnerabilityReport.vuln_id.in_(
                select(Vulnerability.id).where(Vulnerability.status == status.value)
            )
        )
    rows, next_cursor = paginate(session, query, VulnerabilityReport.id, limit=limit, cursor=cursor)
    statuses: dict[str, str] = dict(
        session.execute(
            select(Vulnerability.id, Vulnerability.status).where(
                Vulnerability.id.in_([r.vuln_id for r in rows])
            )
        ).all()
    )
    latest = validations.latest(session, [r.id for r in rows])
    items = []
    for r in rows:
        item = _report_out(r, statuses[r.vuln_id])
        item.validation = latest.get(r.id)
        items.append(item)
    return Page(items=items, next_cursor=next_cursor)


def get_report(session: Session, p: Principal, report_id: str) -> ReportOut:
    report = load_report(session, p, report_id, Action.vuln_report_read)
    vuln = session.get(Vulnerability, report.vuln_id)
    assert vuln is not None
    out = _report_out(report, vuln.status)
    out.validation = validations.latest(session, [report.id]).get(report.id)
    out.triage = screening.triage_view(session, p, report)  # coordinators only
    return out
