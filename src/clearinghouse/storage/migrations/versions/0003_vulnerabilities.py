"""vulnerabilities

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clearinghouse.storage.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "vulnerabilities",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column(
            "record",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column(
            "embargo_until", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "published", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "modified", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "withdrawn", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerabilities")),
        sa.UniqueConstraint("source_id", name=op.f("uq_vulnerabilities_source_id")),
    )
    with op.batch_alter_table("vulnerabilities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vulnerabilities_modified"), ["modified"], unique=False)
        batch_op.create_index(batch_op.f("ix_vulnerabilities_status"), ["status"], unique=False)

    op.create_table(
        "vulnerability_id_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_vulnerability_id_counters")),
    )
    op.create_table(
        "vulnerability_aliases",
        sa.Column("alias", sa.String(length=120), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_vulnerability_aliases_vuln_id_vulnerabilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", "vuln_id", name=op.f("pk_vulnerability_aliases")),
    )
    op.create_table(
        "vulnerability_packages",
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.Column("ecosystem", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("purl", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_vulnerability_packages_vuln_id_vulnerabilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "vuln_id", "ecosystem", "name", name=op.f("pk_vulnerability_packages")
        ),
    )
    with op.batch_alter_table("vulnerability_packages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vulnerability_packages_lookup", ["ecosystem", "name"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("vulnerability_packages", schema=None) as batch_op:
        batch_op.drop_index("ix_vulnerability_packages_lookup")

    op.drop_table("vulnerability_packages")
    op.drop_table("vulnerability_aliases")
    op.drop_table("vulnerability_id_counters")
    with op.batch_alter_table("vulnerabilities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vulnerabilities_status"))
        batch_op.drop_index(batch_op.f("ix_vulnerabilities_modified"))

    op.drop_table("vulnerabilities")
