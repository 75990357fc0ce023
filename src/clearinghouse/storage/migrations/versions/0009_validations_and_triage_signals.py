"""vulns: validations by reproduction, triage signals, coordinators' overrides (issue 11)

Three new tables, nothing existing changes:
- `vulnerability_validations`: one row per recipe attached to a report (the recipe sealed in the
  blob store), its state (queued, running, done, error) and result (verdict, fixed verdict,
  crash type and signature, bounded evidence, timings, cache hits);
- `vulnerability_report_signals`: a report's triage signals with their evidence (JSON), and the
  queue placement of the effective signals, so the triage queue is ordered and paged in SQL;
- `vulnerability_signal_overrides`: every coordinator override of an automatic verdict, with
  its reason (all kept; the latest per signal is in force).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clearinghouse.storage.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulnerability_report_signals",
        sa.Column("report_id", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("validation_id", sa.String(length=40), nullable=True),
        sa.Column(
            "signals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedup_checked", sa.Boolean(), nullable=False),
        sa.Column(
            "computed_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("likely_invalid", sa.Boolean(), nullable=False),
        sa.Column("ssvc", sa.String(length=12), nullable=False),
        sa.Column("ssvc_rank", sa.Integer(), nullable=False),
        sa.Column("score_key", sa.Double(), nullable=False),
        sa.Column("trust_key", sa.Double(), nullable=False),
        sa.Column("no_poc", sa.Boolean(), nullable=False),
        sa.Column(
            "received", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["vulnerability_reports.id"],
            name=op.f("fk_vulnerability_report_signals_report_id_vulnerability_reports"),
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_vulnerability_report_signals")),
    )
    with op.batch_alter_table("vulnerability_report_signals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vulnerability_report_signals_likely_invalid"),
            ["likely_invalid"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_report_signals_tier"), ["tier"], unique=False
        )

    op.create_table(
        "vulnerability_signal_overrides",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=40), nullable=False),
        sa.Column("signal", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.Column("automatic", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["vulnerability_reports.id"],
            name=op.f("fk_vulnerability_signal_overrides_report_id_vulnerability_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerability_signal_overrides")),
    )
    with op.batch_alter_table("vulnerability_signal_overrides", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vulnerability_signal_overrides_report", ["report_id", "signal"], unique=False
        )

    op.create_table(
        "vulnerability_validations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=40), nullable=False),
        sa.Column("vuln_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("fixed_verdict", sa.String(length=20), nullable=True),
        sa.Column("crash_type", sa.String(length=200), nullable=True),
        sa.Column("signature", sa.String(length=600), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("build_cached", sa.Boolean(), nullable=True),
        sa.Column("fixed_build_cached", sa.Boolean(), nullable=True),
        sa.Column(
            "timings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("source_tree_sha256", sa.String(length=64), nullable=True),
        sa.Column("source_ref", sa.String(length=500), nullable=True),
        sa.Column("recipe_blob_id", sa.String(length=40), nullable=False),
        sa.Column("recipe_filename", sa.String(length=200), nullable=False),
        sa.Column("recipe_sha256", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("requested_by_org_id", sa.String(length=40), nullable=True),
        sa.Column("requested_by_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "started_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "validated_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["recipe_blob_id"],
            ["blobs.id"],
            name=op.f("fk_vulnerability_validations_recipe_blob_id_blobs"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["vulnerability_reports.id"],
            name=op.f("fk_vulnerability_validations_report_id_vulnerability_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["vuln_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_vulnerability_validations_vuln_id_vulnerabilities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerability_validations")),
    )
    with op.batch_alter_table("vulnerability_validations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vulnerability_validations_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_validations_source_tree_sha256"),
            ["source_tree_sha256"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_validations_source_ref"), ["source_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_validations_state"), ["state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vulnerability_validations_vuln_id"), ["vuln_id"], unique=False
        )


def downgrade() -> None:
    for table in (
        "vulnerability_validations",
        "vulnerability_signal_overrides",
        "vulnerability_report_signals",
    ):
        op.drop_table(table)
