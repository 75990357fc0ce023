"""inventory: the exposures listing's sort keys, stored and indexed (issue 16)

The listing sorted by `coalesce(ssvc_rank, 9), coalesce(due_at, 9999-12-31), id`, which no index
serves: each page sorted all of an operator's rows (2.6 s at 1M exposures). Now:
- `ssvc_rank` is NOT NULL: 9 for an undecided exposure (backfilled);
- `due_sort`, new: the due date, or 9999-12-31 UTC when none: a stored generated column, so the
  database derives it from `due_at` on every write, bulk statements included (the backfill
  too). Its constant is written as each database stores a UTCDateTime (models._NoDue);
- indexes in the listing's order: (org_id, ssvc_rank, due_sort, id) for an operator's pages,
  (org_id, status, ...) for its pages by status, (ssvc_rank, due_sort, id) for a coordinator's
  (replacing (ssvc_rank, due_at, id)), (status, ...) for a coordinator's by status. They make
  (org_id), (org_id, status) and (status) redundant: dropped.

SQLite: the table is rebuilt (batch). Alembic's batch copy does not skip a generated column, so
a later batch migration of this table must drop `due_sort` in its batch and add it back.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLE = "inventory_exposures"
# 9999-12-31 UTC as each database stores a UTCDateTime (inventory.models._NoDue)
NO_DUE = {
    "sqlite": "'9999-12-31 00:00:00.000000'",
    "postgresql": "timezone('UTC', '9999-12-31 00:00:00'::timestamp)",
}
NEW_INDEXES = {
    "ix_inventory_exposures_org_priority": ["org_id", "ssvc_rank", "due_sort", "id"],
    "ix_inventory_exposures_org_status_priority": [
        "org_id",
        "status",
        "ssvc_rank",
        "due_sort",
        "id",
    ],
    "ix_inventory_exposures_priority": ["ssvc_rank", "due_sort", "id"],
    "ix_inventory_exposures_status_priority": ["status", "ssvc_rank", "due_sort", "id"],
}
OLD_INDEXES = {
    "ix_inventory_exposures_org_id": ["org_id"],
    "ix_inventory_exposures_org_status": ["org_id", "status"],
    "ix_inventory_exposures_priority": ["ssvc_rank", "due_at", "id"],
    "ix_inventory_exposures_status": ["status"],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(sa.text("UPDATE inventory_exposures SET ssvc_rank = 9 WHERE ssvc_rank IS NULL"))
    for name in OLD_INDEXES:
        op.drop_index(name, table_name=TABLE)
    due_sort: sa.Column[datetime] = sa.Column(
        "due_sort",
        clearinghouse.storage.base.UTCDateTime(timezone=True),
        sa.Computed(f"coalesce(due_at, {NO_DUE[dialect]})", persisted=True),
        nullable=False,
    )
    # SQLite cannot add a stored generated column in place: the batch rebuilds the table
    with op.batch_alter_table(TABLE, recreate="always" if dialect == "sqlite" else "never") as b:
        b.alter_column("ssvc_rank", existing_type=sa.Integer(), nullable=False)
        b.add_column(due_sort)
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in NEW_INDEXES:
        op.drop_index(name, table_name=TABLE)
    with op.batch_alter_table(TABLE, recreate="always" if dialect == "sqlite" else "never") as b:
        b.drop_column("due_sort")
        b.alter_column("ssvc_rank", existing_type=sa.Integer(), nullable=True)
    op.execute(sa.text("UPDATE inventory_exposures SET ssvc_rank = NULL WHERE ssvc_rank = 9"))
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, TABLE, columns)
