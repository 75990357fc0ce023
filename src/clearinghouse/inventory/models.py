"""Inventory tables (issue 15): an operator's assets, the SBOMs uploaded for them, their
components (normalised to OSV's (ecosystem, name, version)), and the exposures that matching
finds (asset x component x vulnerability) with their status history."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

from clearinghouse.inventory import ssvc
from clearinghouse.storage.base import Base, UTCDateTime


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
    # SSVC context: inventory.ssvc's ExposureLevel, MissionImpact, WellbeingImpact (checked by
    # inventory.schemas.AssetCreate)
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


NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)  # `due_sort` of an exposure with no due date


class _NoDue(ColumnElement[datetime]):
    """`NO_DUE` as a constant in a generated column's expression, written as each database
    stores a UTCDateTime: SQLite's text (so that it equals a bound NO_DUE exactly, as the
    listing's cursor needs); PostgreSQL's timestamptz built from a UTC timestamp (a generated
    column's expression must be immutable: no session time zone in it)."""

    inherit_cache = True
    type = UTCDateTime()


@compiles(_NoDue)
def _no_due_text(_element: _NoDue, _compiler: SQLCompiler, **_kw: object) -> str:
    return "'9999-12-31 00:00:00.000000'"


@compiles(_NoDue, "postgresql")
def _no_due_timestamptz(_element: _NoDue, _compiler: SQLCompiler, **_kw: object) -> str:
    return "timezone('UTC', '9999-12-31 00:00:00'::timestamp)"


def _rank_of_ssvc(context: DefaultExecutionContext) -> int:
    """`ssvc_rank` of an exposure inserted without one: its outcome's."""
    params: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return ssvc.rank(params.get("ssvc"))


class Exposure(Base):
    """An asset x component x vulnerability. `ssvc`, `epss`, `due_at` are filled by the
    prioritisation (inventory.ssvc, inventory.epss, inventory.due).

    The listing's order (ssvc outcome, due date, id) is stored in two non-null sort keys so
    that an index gives it, never a sort of an operator's rows (issue 16): `ssvc_rank`
    (`ssvc.rank(ssvc)`: written with `ssvc`, computed from it on an insert that leaves it out)
    and `due_sort`, the due date or `NO_DUE`, which the database itself derives from `due_at`
    (a stored generated column), so no writer, bulk statements included, can let it differ."""

    __tablename__ = "inventory_exposures"
    __table_args__ = (
        UniqueConstraint("asset_id", "component_id", "vuln_id"),
        # The listing's pages in its order (exposures.list_exposures): an operator's (org_id
        # = its own), the same by status (the dashboard's open ones by outcome), a
        # coordinator's (every operator's), and a coordinator's by status. The first two serve
        # every other query by org_id, or by org_id and status, as well.
        Index("ix_inventory_exposures_org_priority", "org_id", "ssvc_rank", "due_sort", "id"),
        Index(
            "ix_inventory_exposures_org_status_priority",
            "org_id",
            "status",
            "ssvc_rank",
            "due_sort",
            "id",
        ),
        Index("ix_inventory_exposures_priority", "ssvc_rank", "due_sort", "id"),
        Index("ix_inventory_exposures_status_priority", "status", "ssvc_rank", "due_sort", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "exp_..."
    asset_id: Mapped[str] = mapped_column(ForeignKey("inventory_assets.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    component_id: Mapped[str] = mapped_column(ForeignKey("inventory_components.id"), index=True)
    vuln_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id"), index=True)
    purl: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    cvss_score: Mapped[float | None] = mapped_column(Float)
    kev: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    epss: Mapped[float | None] = mapped_column(Float)
    fixed_in: Mapped[str | None] = mapped_column(String(200))
    ssvc: Mapped[str | None] = mapped_column(String(16), index=True)  # ssvc.OUTCOMES, or None
    ssvc_rank: Mapped[int] = mapped_column(Integer, default=_rank_of_ssvc)  # ssvc.rank(ssvc)
    ssvc_inputs: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    due_sort: Mapped[datetime] = mapped_column(
        Computed(func.coalesce(literal_column("due_at"), _NoDue()), persisted=True)
    )
    status: Mapped[str] = mapped_column(String(16))
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
