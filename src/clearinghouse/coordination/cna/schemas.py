"""Requests and answers of the CNA services."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from clearinghouse.core.schemas import Input

CVE_ID_PATTERN = r"^CVE-[0-9]{4}-[0-9]{4,19}$"
VULN_ID_PATTERN = r"^[A-Za-z0-9._:+-]{1,120}$"


class CveIdState(StrEnum):
    reserved = "reserved"
    published = "published"
    rejected = "rejected"


class ReferralDecision(StrEnum):
    """What the owning CNA said (recorded by a coordinator)."""

    declined = "declined"  # it will not assign: we may
    no_answer = "no_answer"  # it did not answer in time: we may
    owner_assigns = "owner_assigns"  # it assigns the id itself: we may not


class CveReserve(Input):
    """Reserve `count` ids of `year` (default: this year), sequential or not; `vuln_id` binds
    the (single) id to a record, after the first-refusal check."""

    count: int = Field(default=1, ge=1, le=50)
    year: int | None = Field(default=None, ge=1999, le=9999)
    sequential: bool = True
    vuln_id: str | None = Field(default=None, pattern=VULN_ID_PATTERN)


class CvePublish(Input):
    """Publish the CNA container of the record the id is for (`vuln_id` binds it now if the
    reservation named none)."""

    vuln_id: str | None = Field(default=None, pattern=VULN_ID_PATTERN)


class CveReject(Input):
    reason: str = Field(min_length=3, max_length=2000)


class RefusalCheck(Input):
    vuln_id: str = Field(pattern=VULN_ID_PATTERN)


class RefusalDecide(Input):
    decision: ReferralDecision
    reason: str = Field(min_length=3, max_length=2000)


class CveIdOut(BaseModel):
    cve_id: str
    year: int
    state: CveIdState
    vuln_id: str | None
    owning_cna: str
    scope_cna: str | None
    referral_id: str | None
    reserved_by: str | None
    reserved_at: datetime
    published_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None


class ReferralOut(BaseModel):
    """The first-refusal step for one record: `owner_cna` None means no other CNA's scope
    covers it (we may assign)."""

    id: str | None
    vuln_id: str
    owner_cna: str | None
    matched: str | None
    state: str
    reason: str | None
    may_reserve: bool
