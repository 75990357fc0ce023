"""Request and response shapes of the vulnerability knowledge base."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clearinghouse.core.schemas import Input, Instant
from clearinghouse.core.tlp import Tlp
from clearinghouse.sandbox.signature import is_signature
from clearinghouse.vulns.catalog import CWE_PATTERN
from clearinghouse.vulns.states import VulnStatus


class Provenance(Input):
    """Where the finding came from: an AI model, an eval run of ours, or a human."""

    kind: Literal["ai_model", "eval_run", "human"]
    model_name: str | None = Field(default=None, min_length=1, max_length=200)
    model_version: str | None = Field(default=None, min_length=1, max_length=100)
    eval_run_id: str | None = Field(default=None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _complete(self) -> Provenance:
        if self.kind == "ai_model" and not self.model_name:
            raise ValueError("provenance ai_model needs model_name")
        if self.kind == "eval_run" and not self.eval_run_id:
            raise ValueError("provenance eval_run needs eval_run_id")
        if self.kind != "eval_run" and self.eval_run_id:
            raise ValueError("eval_run_id belongs to provenance eval_run")
        return self


class ReportTarget(Input):
    """A package (purl, with the affected version) or a repository at a commit."""

    purl: str | None = Field(default=None, min_length=5, max_length=500, pattern=r"^pkg:")
    repository_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,64}$")

    @model_validator(mode="after")
    def _one(self) -> ReportTarget:
        if not self.purl and not self.repository_url:
            raise ValueError("target needs a purl or a repository_url")
        if self.repository_url and not self.commit:
            raise ValueError("a repository target needs the commit it was found at")
        return self


class PocFile(Input):
    filename: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    content_base64: str = Field(min_length=1, max_length=14_000_000)


class ReportCreate(Input):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=10, max_length=200_000)
    provenance: Provenance
    target: ReportTarget
    claimed_cwe: str | None = Field(default=None, pattern=f"^{CWE_PATTERN}$")
    claimed_cvss: str | None = Field(default=None, max_length=200)
    poc: PocFile | None = None
    tlp: Tlp = Tlp.amber_strict
    embargo_days: int = Field(default=90, ge=0, le=365)


class ValidationOut(BaseModel):
    """One validation of a report: the recipe attached (sealed; its name and sha256 shown) and
    what reproducing it gave. `details` is the whole `ValidationResult` (docs/validation.md)."""

    id: str
    report_id: str
    vuln_id: str
    state: Literal["queued", "running", "done", "error"]
    verdict: str | None
    fixed_verdict: str | None
    crash_type: str | None
    signature: str | None
    error_code: str | None
    evidence: str
    build_cached: bool | None
    fixed_build_cached: bool | None
    timings: dict[str, Any] | None
    details: dict[str, Any] | None
    recipe_filename: str
    recipe_sha256: str
    job_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    validated_at: datetime | None


class OverrideCreate(Input):
    """A coordinator's override of one automatic verdict; the reason is required."""

    signal: Literal[
        "grounded", "reproduced", "already_fixed", "duplicate_of", "ssvc", "likely_invalid"
    ]
    value: str = Field(min_length=1, max_length=120)
    reason: str = Field(default="", max_length=5000)


class OverrideOut(BaseModel):
    id: str
    report_id: str
    signal: str
    value: str
    automatic: str | None  # what the signals said when it was overridden (None: not measured)
    reason: str
    user_id: str | None
    org_id: str | None
    created_at: datetime


class SignalsSummary(BaseModel):
    """The signals in one line each (the effective values: overrides applied)."""

    grounded: str | None
    grounded_score: float | None
    has_poc: bool
    reproduced: str  # reproduced | suspect | not_reproduced | inconclusive | not_run
    already_fixed: bool | None
    duplicate_of: str | None
    track_record: str | None  # "k of n validated"
    ssvc: str


class ReportTriageOut(BaseModel):
    """A report's triage signals as the coordinators see them: the automatic values with their
    evidence (`signals`, `vulns/signals`), every override (newest first), the values in force,
    and where the report sits in the queue."""

    stage: Literal["intake", "validated"]
    computed_at: datetime
    signals: dict[str, Any]
    overrides: list[OverrideOut]
    in_force: dict[str, str]
    effective: SignalsSummary
    tier: int
    tier_name: str
    likely_invalid: bool
    why: str


class QueueItemOut(BaseModel):
    position: int
    report_id: str
    vuln_id: str
    title: str
    status: VulnStatus
    received_at: datetime
    tier: int
    tier_name: str
    likely_invalid: bool
    ssvc: str
    signals: SignalsSummary
    overrides: dict[str, str]
    why: str


class SpotCheckOut(BaseModel):
    report_id: str
    vuln_id: str
    title: str
    position: int
    draw: float
    checked: bool  # a coordinator has given its word on "likely invalid"
    overrides: dict[str, str]
    why: str


class ReportOut(BaseModel):
    id: str
    vuln_id: str
    status: VulnStatus
    reporter_org_id: str | None
    provenance: str
    model_name: str | None
    model_version: str | None
    eval_run_id: str | None
    target_purl: str | None
    target_repo: str | None
    target_commit: str | None
    claimed_cwe: str | None
    claimed_cvss: str | None
    poc_filename: str | None
    poc_sha256: str | None
    created_at: datetime
    validation: ValidationOut | None = None  # the latest validation, if any
    triage: ReportTriageOut | None = None  # coordinators only (`vuln-report:read-signals`)


class VulnTriage(Input):
    status: VulnStatus | None = None
    tlp: Tlp | None = None
    embargo_until: Instant | None = None
    lift_embargo: bool = False
    crash_signature: str | None = Field(default=None, min_length=3, max_length=600)
    note: str = Field(default="", max_length=5000)

    @field_validator("crash_signature")
    @classmethod
    def _sig(cls, v: str | None) -> str | None:
        if v is not None and not is_signature(v):
            raise ValueError(
                "crash_signature is `<crash type>@<frame>[|<frame>...]`, as "
                "clearinghouse.sandbox.signature.crash_signature writes it"
            )
        return v


class KevOut(BaseModel):
    cve_id: str
    date_added: date
    due_date: date | None
    ransomware: str
    required_action: str


class CweOut(BaseModel):
    id: str
    name: str | None


class SeverityOut(BaseModel):
    type: str
    vector: str
    base_score: float | None
    severity: str | None


class VulnSummaryOut(BaseModel):
    id: str
    source_id: str
    summary: str
    status: VulnStatus
    tlp: Tlp
    origin: str
    aliases: list[str]
    ecosystems: list[str]
    cwe_ids: list[str]
    kev: bool
    embargo_until: datetime | None
    published: datetime | None
    modified: datetime
    duplicate_of: str | None


class VulnOut(VulnSummaryOut):
    details: str
    record: dict[str, Any]
    severity: list[SeverityOut]
    cwes: list[CweOut]
    kev_entries: list[KevOut]
    reports: list[str]
    crash_signature: str | None
    validation: ValidationOut | None = None  # the latest validation of a report you may see


class VulnPage(BaseModel):
    items: list[VulnSummaryOut]
    next_cursor: str | None


class CandidateOut(BaseModel):
    id: str
    vuln_a: str
    vuln_b: str
    rule: str
    score: float
    state: Literal["open", "merged", "rejected"]


class MergeCreate(Input):
    vuln_ids: list[str] = Field(min_length=2, max_length=100)
    note: str = Field(default="", max_length=5000)


class MergeOut(BaseModel):
    id: str
    primary_id: str
    members: list[str]
    undone: bool
    created_at: datetime


class OsvPackage(BaseModel):
    """The `package` of a public OSV query. Types are strict (a number is not a name); fields
    osv.dev does not define are ignored, as before."""

    model_config = ConfigDict(strict=True, extra="ignore")
    name: str | None = None
    ecosystem: str | None = None
    purl: str | None = None


class OsvQuery(BaseModel):
    """One public OSV query (`/v1/query`, or an element of `/v1/querybatch`'s `queries`)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    package: OsvPackage | None = None
    version: str | None = None
    commit: str | None = None
    page_token: str | None = None
