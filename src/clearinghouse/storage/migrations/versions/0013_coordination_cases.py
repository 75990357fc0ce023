"""coordination: cases, participants, vendor statuses, messages, artifacts, timeline (issue 14)

New tables only, nothing existing changes:
- `coordination_cases`, `coordination_case_vulns`: a case over one or more records, with its
  state, TLP label, embargo date and the first vendor notification;
- `coordination_participants`: the organisations in a case and their role;
- `coordination_vendor_statuses`: each vendor's current status, statement, VEX justification,
  fixed versions, fix commits and scheduled fix, and when it was notified and first answered;
- `coordination_messages` (sealed bodies), `coordination_artifacts` (sealed blobs),
  `coordination_audiences` (who reads a TLP:RED item), `coordination_timeline`,
  `coordination_deadline_adjustments`.

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import clearinghouse.storage.base

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coordination_audiences",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "org_id", name=op.f("pk_coordination_audiences")),
    )
    op.create_index(
        op.f("ix_coordination_audiences_org_id"), "coordination_audiences", ["org_id"], unique=False
    )
    op.create_table(
        "coordination_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column(
            "embargo_until", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "notified_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_by_org_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_cases")),
    )
    op.create_index(
        op.f("ix_coordination_cases_state"), "coordination_cases", ["state"], unique=False
    )
    op.create_table(
        "coordination_case_vulns",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_case_vulns_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_coordination_case_vulns_vuln_id_vulnerabilities"),
        ),
        sa.PrimaryKeyConstraint("case_id", "vuln_id", name=op.f("pk_coordination_case_vulns")),
    )
    op.create_index(
        op.f("ix_coordination_case_vulns_vuln_id"),
        "coordination_case_vulns",
        ["vuln_id"],
        unique=False,
    )
    op.create_table(
        "coordination_deadline_adjustments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_deadline_adjustments_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_deadline_adjustments")),
    )
    op.create_index(
        op.f("ix_coordination_deadline_adjustments_case_id"),
        "coordination_deadline_adjustments",
        ["case_id"],
        unique=False,
    )
    op.create_table(
        "coordination_messages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("author_org_id", sa.String(length=40), nullable=True),
        sa.Column("author_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "recipient_org_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body_sealed_id", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["body_sealed_id"],
            ["sealed_values.id"],
            name=op.f("fk_coordination_messages_body_sealed_id_sealed_values"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_messages_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_messages")),
    )
    op.create_index(
        "ix_coordination_messages_case", "coordination_messages", ["case_id", "id"], unique=False
    )
    op.create_table(
        "coordination_participants",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "added_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_participants_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_coordination_participants_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("case_id", "org_id", name=op.f("pk_coordination_participants")),
    )
    op.create_index(
        op.f("ix_coordination_participants_org_id"),
        "coordination_participants",
        ["org_id"],
        unique=False,
    )
    op.create_table(
        "coordination_timeline",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column(
            "recipient_org_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("actor_org_id", sa.String(length=40), nullable=True),
        sa.Column("actor_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "occurred_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_timeline_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_timeline")),
    )
    op.create_index(
        "ix_coordination_timeline_case", "coordination_timeline", ["case_id", "id"], unique=False
    )
    op.create_table(
        "coordination_vendor_statuses",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vendor_org_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("justification", sa.String(length=60), nullable=True),
        sa.Column(
            "fixed_versions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fix_commits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fix_scheduled_for",
            clearinghouse.storage.base.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "notified_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "first_response_at",
            clearinghouse.storage.base.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "updated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_by_user_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_vendor_statuses_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_org_id"],
            ["orgs.id"],
            name=op.f("fk_coordination_vendor_statuses_vendor_org_id_orgs"),
        ),
        sa.PrimaryKeyConstraint(
            "case_id", "vendor_org_id", name=op.f("pk_coordination_vendor_statuses")
        ),
    )
    op.create_table(
        "coordination_artifacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=120), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_org_id", sa.String(length=40), nullable=True),
        sa.Column("uploaded_by_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blobs.id"], name=op.f("fk_coordination_artifacts_blob_id_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["coordination_cases.id"],
            name=op.f("fk_coordination_artifacts_case_id_coordination_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_artifacts")),
    )
    op.create_index(
        "ix_coordination_artifacts_case", "coordination_artifacts", ["case_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_coordination_artifacts_case", table_name="coordination_artifacts")
    op.drop_table("coordination_artifacts")
    op.drop_table("coordination_vendor_statuses")
    op.drop_index("ix_coordination_timeline_case", table_name="coordination_timeline")
    op.drop_table("coordination_timeline")
    op.drop_index(
        op.f("ix_coordination_participants_org_id"), table_name="coordination_participants"
    )
    op.drop_table("coordination_participants")
    op.drop_index("ix_coordination_messages_case", table_name="coordination_messages")
    op.drop_table("coordination_messages")
    op.drop_index(
        op.f("ix_coordination_deadline_adjustments_case_id"),
        table_name="coordination_deadline_adjustments",
    )
    op.drop_table("coordination_deadline_adjustments")
    op.drop_index(op.f("ix_coordination_case_vulns_vuln_id"), table_name="coordination_case_vulns")
    op.drop_table("coordination_case_vulns")
    op.drop_index(op.f("ix_coordination_cases_state"), table_name="coordination_cases")
    op.drop_table("coordination_cases")
    op.drop_index(op.f("ix_coordination_audiences_org_id"), table_name="coordination_audiences")
    op.drop_table("coordination_audiences")
