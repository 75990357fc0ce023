"""coordination: a case may opt in to the metadata-only transparency notice (issue 14 part 4)

One new column, `coordination_cases.transparency_notice` (boolean, default false: existing
cases stay opted out).

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coordination_cases") as batch:
        batch.add_column(
            sa.Column(
                "transparency_notice", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("coordination_cases") as batch:
        batch.drop_column("transparency_notice")
