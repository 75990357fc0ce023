"""inventory: where the periodic record-change sync is (issue 15, incremental matching)

One new table, `inventory_vuln_sync` (a single row): the newest record change matched, and when
the sync last ran. Nothing existing changes.

Revision ID: 0021
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_vuln_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "updated_mark", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "checked_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_vuln_sync")),
    )


def downgrade() -> None:
    op.drop_table("inventory_vuln_sync")
