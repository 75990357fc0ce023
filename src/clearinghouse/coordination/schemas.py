"""Request and response shapes of the coordination API (docs/api.md, docs/coordination.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from clearinghouse.coordination.states import CaseState
from clearinghouse.core.schemas import Input, Instant
from clearinghouse.core.tlp import Tlp


class ParticipantRole(StrEnum):
    reporter = "reporter"
    vendor = "vendor"
    coordinator = "coordinator"  # the organisation that opened the case (not added by hand)
    operator_group = "operator_group"


class VendorStatusValue(StrEnum):
    unknown = "unknown"
    under_investigation = "under_investigation"
    affected = "affected"
    not_affected = "not_affected"
    fixed = "fixed"


class Justification(StrEnum):
    """The VEX justifications for not_affected (OpenVEX; CSAF's product-status flags use the
    same five labels)."""

    component_not_present = "component_not_present"
    vulnerable_code_not_present = "vulnerable_code_not_present"
    vulnerable_code_not_in_execute_path = "vulnerable_code_not_in_execute_path"
    vulnerable_code_cannot_be_controlled_by_adversary = (
        "vulnerable_code_cannot_be_controlled_by_adversary"
    )
    inline_mitigations_already_exist = "inline_mitigations_already_exist"


VulnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:+-]{1,120}$")]
OrgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
FixedVersion = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^\S+$")]
FixCommit = Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{7,64}|https://[!-~]{1,490})$")]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=5000)]


class CaseCreate(Input):
    vuln_ids: list[VulnId] = Field(min_length=1, max_length=50)
    title: str = Field(min_length=3, max_length=300)
    tlp: Tlp = Tlp.amber
    embargo_until: Instant | None = None
    # the metadata-only transparency notice after the vendors' notification (publication.py)
    transparency_notice: bool = False


class ParticipantCreate(Input):
    org_id: OrgId
    role: Literal["vendor", "reporter", "operator_group"]


class VendorStatusCreate(Input):
    status: VendorStatusValue
    statement: str = Field(default="", max_length=20_000)
    justification: Justification | None = None
    fixed_versions: list[FixedVersion] = Field(default_factory=list, max_length=50)
    fix_commits: list[FixCommit] = Field(default_factory=list, max_length=50)
    fix_scheduled_for: Instant | None = None


class TransitionCreate(Input):
    to: CaseState
    reason: str = Field(default="", max_length=5000)


class DeadlineAdjust(Input):
    days: int = Field(ge=-365, le=365)
    reason: Reason


class PublishNow(Input):
    """A coordinator publishes a notified case before its deadline."""

    reason: Reason


class MessageCreate(Input):
    body: str = Field(min_length=1, max_length=100_000)
    tlp: Tlp | None = None  # default: the case's label
    recipient_org_ids: list[OrgId] = Field(default_factory=list, max_length=50)


class ArtifactCreate(Input):
    filename: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    kind: Literal["poc", "patch", "log", "other"] = "other"
    media_type: str = Field(
        default="application/octet-stream", max_length=120, pattern=r"^[\w.+-]+/[\w.+-]+$"
    )
    tlp: Tlp | None = None
    content_base64: str = Field(min_length=1, max_length=45_000_000)


class DeadlineOut(BaseModel):
    at: datetime | None
    rule: str
    response_due: datetime | None
    adjusted_days: int
    rolled: bool
    candidates: dict[str, datetime]


class ParticipantOut(BaseModel):
    org_id: str
    role: str
    added_at: datetime


class VendorStatusOut(BaseModel):
    vendor_org_id: str
    status: str
    statement: str
    justification: str | None
    fixed_versions: list[str]
    fix_commits: list[str]
    fix_scheduled_for: datetime | None
    notified_at: datetime | None
    first_response_at: datetime | None
    updated_at: datetime


class AffectedOut(BaseModel):
    """What an early warning tells of one vulnerability: what is affected and how badly."""

    vuln_id: str
    aliases: list[str]
    affected: list[dict[str, Any]]  # {ecosystem, name, purl?, ranges?}
    severity: list[dict[str, Any]]  # the record's OSV severity entries
    known_exploited: bool


class CaseOut(BaseModel):
    id: str
    view: Literal["full", "early_warning"]
    title: str
    state: str
    tlp: str
    embargo_until: datetime | None
    deadline: datetime | None
    deadline_detail: DeadlineOut
    vuln_ids: list[str]
    affected: list[AffectedOut]
    mitigation: list[dict[str, Any]]  # per vendor: status, fixed versions (no statement text)
    participants: list[ParticipantOut] | None = None  # full view only
    vendor_statuses: list[VendorStatusOut] | None = None  # full view only
    notified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CaseSummaryOut(BaseModel):
    id: str
    title: str
    state: str
    tlp: str
    embargo_until: datetime | None
    created_at: datetime


class MessageOut(BaseModel):
    id: str
    tlp: str
    author_org_id: str | None
    recipient_org_ids: list[str]
    body: str
    created_at: datetime


class ArtifactOut(BaseModel):
    id: str
    kind: str
    filename: str
    media_type: str
    tlp: str
    sha256: str
    size: int
    uploaded_by_org_id: str | None
    created_at: datetime


class TimelineEventOut(BaseModel):
    id: str
    kind: str
    tlp: str
    actor_org_id: str | None
    data: dict[str, Any]
    occurred_at: datetime
