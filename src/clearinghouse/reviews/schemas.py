"""What the review program's API and CLI accept and return (pydantic)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from clearinghouse.core.schemas import Input, Instant
from clearinghouse.reviews.states import SubmissionState

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class Contact(Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: str = Field(default="", max_length=100)


class AgreementCreate(Input):
    lab_org_id: str = Field(min_length=1, max_length=40)
    scope: str = Field(min_length=1, max_length=20_000)
    confidentiality_terms: str = Field(min_length=1, max_length=50_000)
    retention_days: int = Field(ge=1, le=3650)
    contacts: list[Contact] = Field(default_factory=list, max_length=50)


class AgreementWithdraw(Input):
    reason: str = Field(default="", max_length=5000)


class AgreementOut(BaseModel):
    id: str
    lab_org_id: str
    scope: str
    confidentiality_terms: str
    retention_days: int
    contacts: list[Contact]
    status: Literal["active", "withdrawn"]
    created_at: datetime
    withdrawn_at: datetime | None


class SubmissionCreate(Input):
    """A model version offered for review. Give `endpoint_url` + `api_key`, or `weights_digest`.

    `endpoint_url` is the OpenAI-compatible base URL (the one ending in `/v1`); `api_key` is
    write-only: it is encrypted at rest and never returned.
    """

    agreement_id: str = Field(min_length=1, max_length=40)
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str = Field(min_length=1, max_length=100)
    planned_release_at: Instant
    endpoint_url: str | None = Field(default=None, min_length=8, max_length=500)
    api_key: SecretStr | None = Field(default=None, min_length=1, max_length=4096)
    weights_digest: str | None = Field(default=None, max_length=80, description="sha256:<64 hex>")
    evaluator_org_id: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _one_access_method(self) -> SubmissionCreate:
        has_endpoint = self.endpoint_url is not None or self.api_key is not None
        if has_endpoint and (self.endpoint_url is None or self.api_key is None):
            raise ValueError("endpoint access needs both endpoint_url and api_key")
        if has_endpoint == (self.weights_digest is not None):
            raise ValueError(
                "give either endpoint_url + api_key, or weights_digest, not both or neither"
            )
        if self.weights_digest is not None and not _DIGEST.match(self.weights_digest):
            raise ValueError("weights_digest must look like sha256:<64 lowercase hex>")
        return self


class AccessOut(BaseModel):
    kind: Literal["endpoint", "weights"]
    endpoint_url: str | None
    api_key_hint: str | None = Field(description="at most the last 4 characters of the key")
    api_key_available: bool
    weights_digest: str | None
    verified_at: datetime | None
    models: list[str]


class SubmissionOut(BaseModel):
    id: str
    agreement_id: str
    lab_org_id: str
    evaluator_org_id: str
    model_name: str
    model_version: str
    planned_release_at: datetime
    access: AccessOut
    state: SubmissionState
    window_opened_at: datetime | None
    deadline: datetime | None
    window_shortened: bool
    window_days: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class TransitionTarget(StrEnum):
    testing = "testing"
    findings_drafted = "findings_drafted"
    closed = "closed"
    withdrawn = "withdrawn"


class TransitionRequest(Input):
    to: TransitionTarget
    reason: str = Field(default="", max_length=5000)


class StateChangeOut(BaseModel):
    from_state: SubmissionState | None
    to_state: SubmissionState
    at: datetime
    actor_user_id: str | None
    reason: str


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class FindingCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    severity: Severity
    category: str = Field(default="general", min_length=1, max_length=60)
    body: str = Field(min_length=1, max_length=200_000)


class FindingOut(BaseModel):
    id: str
    submission_id: str
    title: str
    severity: Severity
    category: str
    body: str
    created_at: datetime


class ReportMediaType(StrEnum):
    html = "text/html"
    json = "application/json"
    markdown = "text/markdown"
    pdf = "application/pdf"


class ReportCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    media_type: ReportMediaType
    content: str = Field(
        min_length=1, max_length=14_000_000, description="the file, as text or base64"
    )
    encoding: Literal["utf-8", "base64"] = "utf-8"


class ReceiptOut(BaseModel):
    sha256: str
    delivered_at: datetime
    delivered_by_user_id: str | None
    acknowledged_at: datetime | None
    acknowledged_by_user_id: str | None


class ReportOut(BaseModel):
    id: str
    submission_id: str
    version: int
    title: str
    media_type: str
    sha256: str
    size: int
    created_at: datetime
    receipt: ReceiptOut | None
