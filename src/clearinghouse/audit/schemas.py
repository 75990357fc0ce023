from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Actor:
    """Who did something: a user acting for an org, or the system (worker, console operator)."""

    user_id: str | None = None
    org_id: str | None = None
    token_id: str | None = None  # the acting API token, when there is one


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    tag: str
    actor_user_id: str | None
    actor_org_id: str | None
    subject_type: str
    subject_id: str | None
    data: dict[str, Any]
    request_id: str | None
    hash: str


class ChainVerification(BaseModel):
    ok: bool
    events: int
    first_bad: int | None
