"""inventory: EPSS scores with history (issue 15, prioritisation)

One new table, nothing existing changes: `inventory_epss_scores`, one row per CVE per score
date (FIRST's daily CSV), primary key (cve_id, score_date); an index on score_date.

Revision ID: 0019
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0019"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_epss_scores",
        sa.Column("cve_id", sa.String(length=40), nullable=False),
        sa.Column("score_date", sa.Date(), nullable=False),
        sa.Column("epss", sa.Double(), nullable=False),
        sa.Column("percentile", sa.Double(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column(
            "imported_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("cve_id", "score_date", name=op.f("pk_inventory_epss_scores")),
    )
    op.create_index("ix_inventory_epss_scores_score_date", "inventory_epss_scores", ["score_date"])


def downgrade() -> None:
    op.drop_index("ix_inventory_epss_scores_score_date", table_name="inventory_epss_scores")
    op.drop_table("inventory_epss_scores")
