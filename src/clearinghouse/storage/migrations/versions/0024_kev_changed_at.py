"""vulns: when a KEV entry was added or last changed (issue 15, KEV reprioritisation)

`kev_entries.changed_at` (indexed; entries imported before this revision get the migration's time, so
the first sync after it reprioritises their exposures once): the
inventory's periodic `inventory.sync_vulns` reprioritises the exposures of the CVEs whose
entry changed since its last run, so a KEV import reaches them without `vulns` importing
`inventory`.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kev_entries") as batch:
        batch.add_column(
            sa.Column(
                "changed_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_index("ix_kev_entries_changed_at", "kev_entries", ["changed_at"])
    # Through the column's own type, so SQLite stores the instant as the models write it.
    kev = sa.table(
        "kev_entries",
        sa.column("changed_at", clearinghouse.storage.base.UTCDateTime(timezone=True)),
    )
    op.execute(kev.update().values(changed_at=datetime.now(UTC)))


def downgrade() -> None:
    op.drop_index("ix_kev_entries_changed_at", table_name="kev_entries")
    with op.batch_alter_table("kev_entries") as batch:
        batch.drop_column("changed_at")
