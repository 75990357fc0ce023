"""eval runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clearinghouse.storage.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=True),
        sa.Column("evaluator_org_id", sa.String(length=40), nullable=True),
        sa.Column("model_spec", sa.String(length=300), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("is_reference", sa.Boolean(), nullable=False),
        sa.Column(
            "tasks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column(
            "progress",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "results",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tier",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report_id", sa.String(length=40), nullable=True),
        sa.Column("created_by_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "started_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["evaluator_org_id"], ["orgs.id"], name=op.f("fk_eval_runs_evaluator_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_eval_runs_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_runs_evaluator_org_id"), ["evaluator_org_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eval_runs_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_eval_runs_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "eval_vulnerability_reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("task", sa.String(length=120), nullable=False),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("poc", sa.Text(), nullable=False),
        sa.Column("transcript_excerpt", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["eval_runs.id"],
            name=op.f("fk_eval_vulnerability_reports_run_id_eval_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_vulnerability_reports")),
    )
    with op.batch_alter_table("eval_vulnerability_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_vulnerability_reports_run_id"), ["run_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("eval_vulnerability_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_vulnerability_reports_run_id"))

    op.drop_table("eval_vulnerability_reports")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_runs_submission_id"))
        batch_op.drop_index(batch_op.f("ix_eval_runs_state"))
        batch_op.drop_index(batch_op.f("ix_eval_runs_evaluator_org_id"))

    op.drop_table("eval_runs")
