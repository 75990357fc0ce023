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
    on_behalf_of: str | None = (
        None  # the system acting in an org's name: why (Principal.on_behalf_of)
    )


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    tag: str
    actor_user_id: str | None
    actor_org_id: str | None
    actor_token_id: str | None
    subject_type: str
    subject_id: str | None
    data: dict[str, Any]
    request_id: str | None
    hash: str


class CheckpointCheck(BaseModel):
    """One checkpoint compared with the chain. `reason` (when not ok) is a stable code:
    no_audit_key, malformed_note, unknown_key (not signed by this instance's key),
    bad_signature, malformed_checkpoint, wrong_origin, events_missing (the chain is shorter
    than the checkpoint: events were deleted), head_mismatch, chain_broken, row_mismatch
    (the stored row's columns disagree with its note), unreadable."""

    source: str
    size: int | None
    ok: bool
    reason: str | None = None


class AnchorCheck(BaseModel):
    """The anchor in the data directory (`audit/anchor.json`) of the audit key compared with the database. `key_id`: the
    key the anchor names (None: no anchor yet). `reason` (when not ok): audit_key_lost (the
    database no longer has the anchored key), audit_key_mismatch (it has another key),
    anchor_invalid (the file cannot be read or parsed)."""

    key_id: str | None
    ok: bool
    reason: str | None = None


class ChainVerification(BaseModel):
    ok: bool
    events: int
    first_bad: int | None
    legacy_events: int = 0  # events chained with plain SHA-256, before the chain was keyed
    key_id: str | None = None  # the checkpoint key's id (hex); None: no audit key yet
    anchor: AnchorCheck | None = None
    checkpoints: list[CheckpointCheck] = []


class CheckpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    size: int
    head: str
    note: str
    created_at: datetime


class CheckpointKeyOut(BaseModel):
    """The public key that verifies this instance's checkpoints."""

    name: str
    key_id: str
    verifier_key: str
