"""Inventory tables (issue 15): an operator's assets, the SBOMs uploaded for them, their
components (normalised to OSV's (ecosystem, name, version)), and the exposures that matching
finds (asset x component x vulnerability) with their status history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.storage.base import Base


class Sector(StrEnum):
    """CISA's 16 critical infrastructure sectors (PPD-21), as lower-case slugs."""

    chemical = "chemical"
    commercial_facilities = "commercial_facilities"
    communications = "communications"
    critical_manufacturing = "critical_manufacturing"
    dams = "dams"
    defense_industrial_base = "defense_industrial_base"
    emergency_services = "emergency_services"
    energy = "energy"
    financial_services = "financial_services"
    food_agriculture = "food_agriculture"
    government_facilities = "government_facilities"
    healthcare = "healthcare"
    information_technology = "information_technology"
    nuclear = "nuclear"
    transportation = "transportation"
    water = "water"


SECTORS: tuple[str, ...] = tuple(Sector)


class Criticality(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ExposureLevel(StrEnum):
    """SSVC deployer "system exposure"."""

    small = "small"
    controlled = "controlled"
    open = "open"


class ExposureStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    mitigated = "mitigated"
    remediated = "remediated"
    risk_accepted = "risk_accepted"
    not_affected = "not_affected"


OPEN_STATUSES = frozenset({ExposureStatus.open, ExposureStatus.in_progress})


class Asset(Base):
    __tablename__ = "inventory_assets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "ast_..."
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40), index=True)
    criticality: Mapped[str] = mapped_column(String(16))
    owner_contact: Mapped[str | None] = mapped_column(String(320))
    # SSVC deployer context (the vocabulary is validated by inventory.ssvc once merged)
    exposure: Mapped[str | None] = mapped_column(String(16))
    mission_impact: Mapped[str | None] = mapped_column(String(40))
    wellbeing_impact: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(40))


class Sbom(Base):
    """One uploaded SBOM of an asset. The newest (`superseded_at` NULL) is the current one;
    `diff` records what changed against the one it superseded."""

    __tablename__ = "inventory_sboms"
    __table_args__ = (UniqueConstraint("asset_id", "seq"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "sbm_..."
    asset_id: Mapped[str] = mapped_column(ForeignKey("inventory_assets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))  # cyclonedx | spdx
    spec_version: Mapped[str] = mapped_column(String(16))
    media: Mapped[str] = mapped_column(String(16))  # json | xml | tag-value
    sha256: Mapped[str] = mapped_column(String(64))
    component_count: Mapped[int] = mapped_column(Integer, default=0)
    unmatched_count: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str | None] = mapped_column(String(40))
    superseded_at: Mapped[datetime | None]
    diff: Mapped[dict[str, Any]]


class Component(Base):
    __tablename__ = "inventory_components"
    __table_args__ = (
        # The candidate lookup for a new advisory (inventory.matching.candidates), covering:
        # a package's distinct versions on current SBOMs, then the affected versions' ids, are
        # read from the index alone, without a row lookup per component.
        Index("ix_inventory_components_package", "ecosystem", "name", "version", "sbom_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "cmp_..."
    sbom_id: Mapped[str] = mapped_column(ForeignKey("inventory_sboms.id"), index=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("inventory_assets.id"), index=True)
    purl: Mapped[str | None] = mapped_column(Text)
    ecosystem: Mapped[str | None] = mapped_column(String(80))  # NULL when unmatched
    name: Mapped[str | None] = mapped_column(String(300))  # OSV-normalised
    version: Mapped[str | None] = mapped_column(String(200))
    bom_ref: Mapped[str | None] = mapped_column(Text)
    unmatched_reason: Mapped[str | None] = mapped_column(String(200))  # NULL when matchable


class Exposure(Base):
    """An asset x component x vulnerability. `ssvc`, `epss`, `due_at` are filled by the
    prioritisation (inventory.ssvc, inventory.epss, inventory.due)."""

    __tablename__ = "inventory_exposures"
    __table_args__ = (
        UniqueConstraint("asset_id", "component_id", "vuln_id"),
        Index("ix_inventory_exposures_org_status", "org_id", "status"),
        # the prioritised cursor: (ssvc_rank, due_at, id)
        Index("ix_inventory_exposures_priority", "ssvc_rank", "due_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "exp_..."
    asset_id: Mapped[str] = mapped_column(ForeignKey("inventory_assets.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    component_id: Mapped[str] = mapped_column(ForeignKey("inventory_components.id"), index=True)
    vuln_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    purl: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    cvss_score: Mapped[float | None] = mapped_column(Float)
    kev: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    epss: Mapped[float | None] = mapped_column(Float)
    fixed_in: Mapped[str | None] = mapped_column(String(200))
    ssvc: Mapped[str | None] = mapped_column(String(16), index=True)  # Track|Track*|Attend|Act
    # Act=0, Attend=1, Track*=2, Track=3 (the name's alphabetical order is not the priority)
    ssvc_rank: Mapped[int | None] = mapped_column(Integer)
    ssvc_inputs: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    justification: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(String(16), default="full")  # full | early_warning
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # indexed: each matching job prioritises what it touched (`updated_at >= its start`)
    updated_at: Mapped[datetime] = mapped_column(index=True)


class ExposureEvent(Base):
    """One status change of an exposure: who, when, why, with its evidence."""

    __tablename__ = "inventory_exposure_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "xev_..."
    exposure_id: Mapped[str] = mapped_column(ForeignKey("inventory_exposures.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(40))  # user id, org id or "system"
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]]


class VulnSync(Base):
    """Where the periodic `inventory.sync_vulns` job is (one row): the newest record change it
    has matched (`updated_mark`, a record's `updated_at`), and when it last ran (`checked_at`:
    embargoes that ended since then are matched too, as an embargo ends by the clock)."""

    __tablename__ = "inventory_vuln_sync"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    updated_mark: Mapped[datetime]
    checked_at: Mapped[datetime]
