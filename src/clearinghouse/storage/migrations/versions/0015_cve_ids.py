"""coordination: the clearinghouse as a CNA, CVE ids and first-refusal referrals (issue 14)

Two new tables, nothing existing changes:
- `cve_ids`: the CVE ids we reserved from CVE Services, their state (reserved, published,
  rejected), the record each is for, who reserved, published or rejected it and when, and the
  CNA whose scope covered the product at first refusal;
- `cna_referrals`: first refusal (CNA rules 4.2.1), one row per record and owning CNA, with
  what it said (pending, declined, no_answer, owner_assigns) and the coordinator's reason.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cve_ids",
        sa.Column("cve_id", sa.String(length=24), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=True),
        sa.Column("owning_cna", sa.String(length=64), nullable=False),
        sa.Column("scope_cna", sa.String(length=64), nullable=True),
        sa.Column("referral_id", sa.String(length=40), nullable=True),
        sa.Column("reserved_by", sa.String(length=40), nullable=True),
        _when("reserved_at", False),
        sa.Column("published_by", sa.String(length=40), nullable=True),
        _when("published_at", True),
        sa.Column("rejected_by", sa.String(length=40), nullable=True),
        _when("rejected_at", True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        _when("updated_at", False),
        sa.ForeignKeyConstraint(
            ["vuln_id"], ["vulnerabilities.id"], name=op.f("fk_cve_ids_vuln_id_vulnerabilities")
        ),
        sa.PrimaryKeyConstraint("cve_id", name=op.f("pk_cve_ids")),
    )
    with op.batch_alter_table("cve_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cve_ids_vuln_id"), ["vuln_id"], unique=False)
        batch_op.create_index(
            "ix_cve_ids_state_reserved_at", ["state", "reserved_at"], unique=False
        )

    op.create_table(
        "cna_referrals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.Column("owner_cna", sa.String(length=64), nullable=False),
        sa.Column("matched", sa.String(length=600), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        _when("created_at", False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        _when("decided_at", True),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_cna_referrals_vuln_id_vulnerabilities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cna_referrals")),
    )
    with op.batch_alter_table("cna_referrals", schema=None) as batch_op:
        batch_op.create_index("ix_cna_referrals_vuln_owner", ["vuln_id", "owner_cna"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("cna_referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_cna_referrals_vuln_owner")
    op.drop_table("cna_referrals")
    with op.batch_alter_table("cve_ids", schema=None) as batch_op:
        batch_op.drop_index("ix_cve_ids_state_reserved_at")
        batch_op.drop_index(batch_op.f("ix_cve_ids_vuln_id"))
    op.drop_table("cve_ids")
