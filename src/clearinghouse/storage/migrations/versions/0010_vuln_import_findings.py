"""vulns: the OSV quality gate's findings on imported records (issue 13)

One new table, nothing existing changes: `vulnerability_import_findings`, one row per finding
(rule code, field, message, the import's format), deleted with its record.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulnerability_import_findings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_vulnerability_import_findings_vuln_id_vulnerabilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerability_import_findings")),
    )
    with op.batch_alter_table("vulnerability_import_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vulnerability_import_findings_code"), ["code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_import_findings_vuln_id"), ["vuln_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vulnerability_import_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vulnerability_import_findings_vuln_id"))
        batch_op.drop_index(batch_op.f("ix_vulnerability_import_findings_code"))
    op.drop_table("vulnerability_import_findings")
