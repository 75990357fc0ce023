"""Exposures' I/O schemas: the listing's rows, one exposure with its history, status changes,
metrics (issue 15, part 4; the assets' and SBOMs' are in inventory.schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from clearinghouse.core.schemas import Input
from clearinghouse.inventory.models import ExposureStatus
from clearinghouse.vulns.publication.vex import Justification

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
ExposureId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
MAX_BULK = 500


class ExposureOut(BaseModel):
    """One exposure. An early warning (`detail="early_warning"`: an embargoed record seen
    through a coordination case's sharing group) carries its TLP label and no aliases; no
    exposure ever carries the record's text, PoC or recipe."""

    id: str
    asset_id: str
    org_id: str
    vuln_id: str
    aliases: list[str]
    purl: str | None
    version: str | None
    severity: str
    cvss_score: float | None
    kev: bool
    epss: float | None
    fixed_in: str | None
    ssvc: str | None
    ssvc_inputs: dict[str, Any] | None
    due_at: datetime | None
    overdue: bool
    status: str
    justification: str | None
    detail: str
    tlp: str | None = Field(description="TLP label of an early warning (AMBER or stricter)")
    case_id: str | None = Field(description="the coordination case of an early warning")
    mitigation: list[dict[str, Any]] | None = Field(
        description="an early warning's mitigation: each vendor's status and fixed versions"
    )
    opened_at: datetime
    closed_at: datetime | None
    updated_at: datetime


class ExposureEventOut(BaseModel):
    id: str
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str
    evidence: dict[str, Any]


class ExposureDetail(ExposureOut):
    events: list[ExposureEventOut]


class StatusChange(Input):
    status: ExposureStatus
    note: Note = ""
    justification: Justification | None = Field(
        default=None, description="required for not_affected (the VEX justification labels)"
    )


class BulkStatusChange(StatusChange):
    ids: Annotated[list[ExposureId], Field(min_length=1, max_length=MAX_BULK)]


class BulkResult(BaseModel):
    changed: list[str]


class Count(BaseModel):
    key: str
    count: int


class Metrics(BaseModel):
    """Open (open or in_progress) exposures counted several ways; overdue ones; time to
    remediate (opened to the remediated event), in days."""

    open_total: int
    open_by_severity: dict[str, int]
    open_by_ssvc: dict[str, int]
    open_by_sector: dict[str, int]
    open_by_kev: dict[str, int]
    overdue: int
    remediated: int
    mean_days_to_remediate: float | None
    p90_days_to_remediate: float | None


class VexSkip(BaseModel):
    statement: int  # its index in the document
    reason: str


class VexResult(BaseModel):
    """What a VEX document did: the exposures it closed as not_affected, and the not_affected
    statements it could not apply, with why."""

    format: str
    sha256: str
    statements: int
    applied: list[str]
    skipped: list[VexSkip]


class CaseVexResult(BaseModel):
    """What a vendor's VEX for its case did, statement by statement (the indexes of the
    document's statements, one per product), and nothing about the exposures it closed: a
    vendor never learns which operators run its package, nor how many."""

    case_id: str
    format: str
    sha256: str
    statements: int
    accepted: list[int]
    skipped: list[VexSkip]
