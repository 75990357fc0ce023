"""Inventory I/O schemas: assets and SBOMs (the exposures' live in inventory.exposures)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clearinghouse.core.schemas import Input
from clearinghouse.inventory.models import Criticality, Sector
from clearinghouse.inventory.ssvc import ExposureLevel, MissionImpact, WellbeingImpact

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Contact = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class AssetCreate(Input):
    org_id: OrgId
    name: Name
    sector: Sector
    criticality: Criticality
    owner_contact: Contact | None = None
    exposure: ExposureLevel | None = None
    mission_impact: MissionImpact | None = None
    wellbeing_impact: WellbeingImpact | None = None


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    name: str
    sector: str
    criticality: str
    owner_contact: str | None
    exposure: str | None
    mission_impact: str | None
    wellbeing_impact: str | None
    created_at: datetime
    created_by: str | None


class SbomDiff(BaseModel):
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    exposures_opened: int = 0
    exposures_remediated: int = 0


class SbomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    asset_id: str
    seq: int
    format: str
    spec_version: str
    media: str
    sha256: str
    component_count: int
    unmatched_count: int
    uploaded_at: datetime
    uploaded_by: str | None
    superseded_at: datetime | None
    diff: dict[str, Any]


class ComponentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sbom_id: str
    asset_id: str
    purl: str | None
    ecosystem: str | None
    name: str | None
    version: str | None
    bom_ref: str | None
    unmatched_reason: str | None
