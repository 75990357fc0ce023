"""inventory: a covering index for the candidate lookup of a new advisory (issue 15)

`ix_inventory_components_lookup` (ecosystem, name) becomes
`ix_inventory_components_package` (ecosystem, name, version, sbom_id, id): the same prefix, and
the candidate queries (a package's distinct versions on current SBOMs, then the affected
versions' component ids) are answered from the index without a row lookup per component.
`ix_inventory_exposures_updated_at`: each matching job prioritises what it touched by
`updated_at`, which scanned the whole table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_inventory_components_lookup", table_name="inventory_components")
    op.create_index(
        "ix_inventory_components_package",
        "inventory_components",
        ["ecosystem", "name", "version", "sbom_id", "id"],
    )
    # each matching job prioritises the exposures it touched (`updated_at >= its start`)
    op.create_index("ix_inventory_exposures_updated_at", "inventory_exposures", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_inventory_exposures_updated_at", table_name="inventory_exposures")
    op.drop_index("ix_inventory_components_package", table_name="inventory_components")
    op.create_index("ix_inventory_components_lookup", "inventory_components", ["ecosystem", "name"])
