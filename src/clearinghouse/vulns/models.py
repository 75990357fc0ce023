from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.core.clock import utcnow
from clearinghouse.storage.base import Base


class Vulnerability(Base):
    """The canonical record, shaped like OSV 1.7, plus TLP, embargo and workflow status.

    `id` is ours (`CH-YYYY-NNNNN`); `source_id` is the id the record arrived with (`PYSEC-...`),
    which the OSV API serves for imported records, as osv.dev does.
    """

    __tablename__ = "vulnerabilities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(120), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    record: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    tlp: Mapped[str] = mapped_column(String(20))
    embargo_until: Mapped[datetime | None]
    published: Mapped[datetime | None]
    modified: Mapped[datetime] = mapped_column(index=True)
    withdrawn: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)  # the public index's generation
    # Where the record came from: osv | csaf | cve5 | report.
    origin: Mapped[str] = mapped_column(String(12), default="osv")
    cwe_ids: Mapped[list[str]] = mapped_column(default=list)
    # Exact-dedup keys: a digest of the normalised affected packages + ranges + CWEs, and the
    # crash signature that sandbox reproduction fills in (see vulns.dedup).
    affected_signature: Mapped[str | None] = mapped_column(String(64), index=True)
    crash_signature: Mapped[str | None] = mapped_column(String(128), index=True)
    # Set when a coordinator merged this record into another (status "duplicate").
    duplicate_of: Mapped[str | None] = mapped_column(String(40), index=True)


class VulnerabilityAlias(Base):
    __tablename__ = "vulnerability_aliases"

    alias: Mapped[str] = mapped_column(String(120), primary_key=True)
    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AffectedPackage(Base):
    """Lookup index: which records name which (ecosystem, package). Ranges are evaluated from
    the record itself (vulns.ranges)."""

    __tablename__ = "vulnerability_packages"
    __table_args__ = (Index("ix_vulnerability_packages_lookup", "ecosystem", "name"),)

    vuln_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )
    ecosystem: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    purl: Mapped[str | None] = mapped_column(String(500))


class IdCounter(Base):
    """Per-year sequence for CH-YYYY-NNNNN ids."""

    __tablename__ = "vulnerability_id_counters"

    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CweEntry(Base):
    """One weakness from MITRE's CWE list, imported with `clearinghouse vulns cwe-import`."""

    __tablename__ = "cwe_entries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 787 for CWE-787
    name: Mapped[str] = mapped_column(String(400))
    abstraction: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="")


class KevEntry(Base):
    """One entry of CISA's Known Exploited Vulnerabilities catalog. Records whose aliases name
    the CVE carry the KEV flag and due date (joined at read time, so a catalog update is one
    import away). `changed_at` lets a consumer find what an import changed without a hook in
    the import (the inventory's `sync_vulns` reprioritises those CVEs' exposures)."""

    __tablename__ = "kev_entries"

    cve_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(200), default="")
    product: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(Text, default="")
    date_added: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    ransomware: Mapped[str] = mapped_column(String(20), default="Unknown")
    required_action: Mapped[str] = mapped_column(Text, default="")
    cwes: Mapped[list[str]] = mapped_column(default=list)
    digest: Mapped[str] = mapped_column(String(64))
    # when the entry was added or last changed (migration 0024; NULL: before then): the
    # inventory's periodic sync reprioritises the exposures of entries changed since its last run
    changed_at: Mapped[datetime | None] = mapped_column(index=True, default=utcnow, onupdate=utcnow)


class VulnerabilityReport(Base):
    """A report as it arrived (intake): who sent it, from what (an AI model, an eval run or a
    human), about which target. The claim becomes a `Vulnerability` in status `new`, which is the
    coordinators' triage queue. The PoC is sealed (vault), never stored in the clear."""

    __tablename__ = "vulnerability_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vuln_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    reporter_org_id: Mapped[str | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    reporter_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    provenance: Mapped[str] = mapped_column(String(12))  # ai_model | eval_run | human
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(100))
    # The eval run and the finding it staged (evals' `eval_vulnerability_reports`), as plain
    # ids: vulns holds no foreign key into another domain's tables; intake checks them
    # (`reports.submit_report` through the `EvalRuns` seam).
    eval_run_id: Mapped[str | None] = mapped_column(String(40), index=True)
    eval_report_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    target_purl: Mapped[str | None] = mapped_column(String(500))
    target_repo: Mapped[str | None] = mapped_column(String(500))
    target_commit: Mapped[str | None] = mapped_column(String(64))
    claimed_cwe: Mapped[str | None] = mapped_column(String(20))
    claimed_cvss: Mapped[str | None] = mapped_column(String(200))
    poc_sealed_id: Mapped[str | None] = mapped_column(String(40))
    poc_filename: Mapped[str | None] = mapped_column(String(200))
    poc_sha256: Mapped[str | None] = mapped_column(String(64))
    transcript_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class DuplicateCandidate(Base):
    """A pair of records that may describe the same vulnerability, with the rule that found it
    and a score in [0, 1]. Coordinators merge or reject candidates."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (UniqueConstraint("vuln_a", "vuln_b", "rule"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vuln_a: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id", ondelete="CASCADE"))
    vuln_b: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(24))  # alias | package_range_cwe | crash | text
    score: Mapped[float]
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class Merge(Base):
    """A coordinator's merge of records into one alias set, kept so that it can be undone."""

    __tablename__ = "vulnerability_merges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    primary_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    members: Mapped[list[str]]
    prior: Mapped[dict[str, Any]]  # member id -> its status before the merge
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class Validation(Base):
    """One validation of a report (issue 11): the recipe a reporter or coordinator attached,
    sealed in the blob store, and what reproducing it gave (`vulns/validation`). One row per
    attached recipe; the job's retries update the same row (`attempt` is the job attempt that
    may write it), so a validation never has two results."""

    __tablename__ = "vulnerability_validations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("vulnerability_reports.id"), index=True)
    vuln_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), index=True)  # queued|running|done|error
    verdict: Mapped[str | None] = mapped_column(String(20))
    fixed_verdict: Mapped[str | None] = mapped_column(String(20))
    crash_type: Mapped[str | None] = mapped_column(String(200))
    signature: Mapped[str | None] = mapped_column(String(600))
    error_code: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[str] = mapped_column(Text, default="")  # at most EVIDENCE_CHARS
    result: Mapped[dict[str, Any] | None]  # the whole ValidationResult
    build_cached: Mapped[bool | None]
    fixed_build_cached: Mapped[bool | None]
    timings: Mapped[dict[str, Any] | None]
    # The recipe's vulnerable source: its content hash (`vulns/source_trees.py` keeps the tree)
    # and the recipe's `target.source` (a purl, or a path in the recipe).
    source_tree_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    source_ref: Mapped[str | None] = mapped_column(String(500), index=True)
    recipe_blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    recipe_filename: Mapped[str] = mapped_column(String(200))
    recipe_sha256: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(default=0)
    requested_by_org_id: Mapped[str | None] = mapped_column(String(40))
    requested_by_user_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    validated_at: Mapped[datetime | None]


class ReportSignals(Base):
    """A report's triage signals (`vulns/signals`), as last computed: at intake, after a
    validation, after a dedup scan. `signals` holds the automatic values with their evidence;
    the other columns are the queue placement of the effective signals (the coordinators'
    overrides applied), so the queue is ordered and paged in SQL exactly as `queue.rank()`
    orders."""

    __tablename__ = "vulnerability_report_signals"

    report_id: Mapped[str] = mapped_column(ForeignKey("vulnerability_reports.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(12))  # intake | validated
    validation_id: Mapped[str | None] = mapped_column(String(40))
    signals: Mapped[dict[str, Any]]
    dedup_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime]
    tier: Mapped[int] = mapped_column(index=True)
    likely_invalid: Mapped[bool] = mapped_column(Boolean, index=True)
    ssvc: Mapped[str] = mapped_column(String(12))
    ssvc_rank: Mapped[int]
    score_key: Mapped[float]
    trust_key: Mapped[float]
    no_poc: Mapped[bool] = mapped_column(Boolean)
    received: Mapped[datetime]
    detail: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class SignalOverride(Base):
    """A coordinator's override of one automatic verdict, with the reason. Every override is
    kept; the latest per (report, signal) is in force."""

    __tablename__ = "vulnerability_signal_overrides"
    __table_args__ = (Index("ix_vulnerability_signal_overrides_report", "report_id", "signal"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("vulnerability_reports.id"))
    signal: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(120))
    automatic: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(40))
    org_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
