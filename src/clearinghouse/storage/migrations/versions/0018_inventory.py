"""inventory: operator assets, SBOMs, components, exposures and their events (issue 15)

Five new tables, nothing existing changes:
- `inventory_assets`: an operator's assets (sector, criticality, SSVC deployer context);
- `inventory_sboms`: each SBOM uploaded for an asset (seq per asset; the current one has no
  `superseded_at`; `diff` against the one it replaced);
- `inventory_components`: their components, normalised to OSV (ecosystem, name, version), with
  the (ecosystem, name) index a new advisory's candidate lookup uses;
- `inventory_exposures`: asset x component x vulnerability (unique), with the prioritisation
  columns and the filter and cursor indexes;
- `inventory_exposure_events`: every status change with its actor, note and evidence.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clearinghouse.storage.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_assets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("criticality", sa.String(length=16), nullable=False),
        sa.Column("owner_contact", sa.String(length=320), nullable=True),
        sa.Column("exposure", sa.String(length=16), nullable=True),
        sa.Column("mission_impact", sa.String(length=40), nullable=True),
        sa.Column("wellbeing_impact", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_inventory_assets_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_assets")),
    )
    with op.batch_alter_table("inventory_assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_assets_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_assets_sector"), ["sector"], unique=False)

    op.create_table(
        "inventory_sboms",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("spec_version", sa.String(length=16), nullable=False),
        sa.Column("media", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("component_count", sa.Integer(), nullable=False),
        sa.Column("unmatched_count", sa.Integer(), nullable=False),
        sa.Column(
            "uploaded_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("uploaded_by", sa.String(length=40), nullable=True),
        sa.Column(
            "superseded_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "diff",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["inventory_assets.id"],
            name=op.f("fk_inventory_sboms_asset_id_inventory_assets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_sboms")),
        sa.UniqueConstraint("asset_id", "seq", name=op.f("uq_inventory_sboms_asset_id")),
    )
    with op.batch_alter_table("inventory_sboms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_sboms_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "inventory_components",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sbom_id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.Column("ecosystem", sa.String(length=80), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("bom_ref", sa.Text(), nullable=True),
        sa.Column("unmatched_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["inventory_assets.id"],
            name=op.f("fk_inventory_components_asset_id_inventory_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["sbom_id"],
            ["inventory_sboms.id"],
            name=op.f("fk_inventory_components_sbom_id_inventory_sboms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_components")),
    )
    with op.batch_alter_table("inventory_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_components_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index("ix_inventory_components_lookup", ["ecosystem", "name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inventory_components_sbom_id"), ["sbom_id"], unique=False
        )

    op.create_table(
        "inventory_exposures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("component_id", sa.String(length=40), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("cvss_score", sa.Float(), nullable=True),
        sa.Column("kev", sa.Boolean(), nullable=False),
        sa.Column("epss", sa.Float(), nullable=True),
        sa.Column("fixed_in", sa.String(length=200), nullable=True),
        sa.Column("ssvc", sa.String(length=16), nullable=True),
        sa.Column("ssvc_rank", sa.Integer(), nullable=True),
        sa.Column(
            "ssvc_inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("due_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("justification", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.String(length=16), nullable=False),
        sa.Column(
            "opened_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "closed_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "updated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["inventory_assets.id"],
            name=op.f("fk_inventory_exposures_asset_id_inventory_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["inventory_components.id"],
            name=op.f("fk_inventory_exposures_component_id_inventory_components"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_inventory_exposures_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_inventory_exposures_vuln_id_vulnerabilities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_exposures")),
        sa.UniqueConstraint(
            "asset_id", "component_id", "vuln_id", name=op.f("uq_inventory_exposures_asset_id")
        ),
    )
    with op.batch_alter_table("inventory_exposures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_exposures_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inventory_exposures_component_id"), ["component_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inventory_exposures_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_exposures_kev"), ["kev"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_exposures_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_inventory_exposures_org_status", ["org_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_inventory_exposures_priority", ["ssvc_rank", "due_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inventory_exposures_severity"), ["severity"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inventory_exposures_ssvc"), ["ssvc"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_exposures_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inventory_exposures_vuln_id"), ["vuln_id"], unique=False
        )

    op.create_table(
        "inventory_exposure_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("exposure_id", sa.String(length=40), nullable=False),
        sa.Column("at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["exposure_id"],
            ["inventory_exposures.id"],
            name=op.f("fk_inventory_exposure_events_exposure_id_inventory_exposures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_exposure_events")),
    )
    with op.batch_alter_table("inventory_exposure_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_exposure_events_exposure_id"), ["exposure_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_exposure_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_exposure_events_exposure_id"))

    op.drop_table("inventory_exposure_events")
    with op.batch_alter_table("inventory_exposures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_vuln_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_status"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_ssvc"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_severity"))
        batch_op.drop_index("ix_inventory_exposures_priority")
        batch_op.drop_index("ix_inventory_exposures_org_status")
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_org_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_kev"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_due_at"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_component_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_exposures_asset_id"))

    op.drop_table("inventory_exposures")
    with op.batch_alter_table("inventory_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_components_sbom_id"))
        batch_op.drop_index("ix_inventory_components_lookup")
        batch_op.drop_index(batch_op.f("ix_inventory_components_asset_id"))

    op.drop_table("inventory_components")
    with op.batch_alter_table("inventory_sboms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_sboms_asset_id"))

    op.drop_table("inventory_sboms")
    with op.batch_alter_table("inventory_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_assets_sector"))
        batch_op.drop_index(batch_op.f("ix_inventory_assets_org_id"))

    op.drop_table("inventory_assets")
