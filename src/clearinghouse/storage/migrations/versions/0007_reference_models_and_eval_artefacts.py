"""evals (reference models, sealed eval artefacts)

Reference models (registered by a coordinator, key sealed in the vault) that eval runs and
judges must name instead of a raw model spec and URL; the run's reference and judge columns;
eval artefacts (Inspect logs and report files sealed in the blob store).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("model_spec", sa.String(length=300), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_key_sealed_id", sa.String(length=40), nullable=True),
        sa.Column("api_key_hint", sa.String(length=8), nullable=True),
        sa.Column("created_by_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["api_key_sealed_id"],
            ["sealed_values.id"],
            name=op.f("fk_reference_models_api_key_sealed_id_sealed_values"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_models")),
        sa.UniqueConstraint("name", name=op.f("uq_reference_models_name")),
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_model_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("judge_reference_model_id", sa.String(length=40), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_runs_reference_model_id_reference_models"),
            "reference_models",
            ["reference_model_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_runs_judge_reference_model_id_reference_models"),
            "reference_models",
            ["judge_reference_model_id"],
            ["id"],
        )
    op.create_table(
        "eval_artefacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "destroyed_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blobs.id"], name=op.f("fk_eval_artefacts_blob_id_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eval_runs.id"], name=op.f("fk_eval_artefacts_run_id_eval_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_artefacts")),
    )
    with op.batch_alter_table("eval_artefacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_artefacts_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("eval_vulnerability_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poc_sealed_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("excerpt_sealed_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_vulnerability_reports_poc_sealed_id_sealed_values"),
            "sealed_values",
            ["poc_sealed_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_vulnerability_reports_excerpt_sealed_id_sealed_values"),
            "sealed_values",
            ["excerpt_sealed_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("eval_vulnerability_reports", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_eval_vulnerability_reports_excerpt_sealed_id_sealed_values"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_eval_vulnerability_reports_poc_sealed_id_sealed_values"),
            type_="foreignkey",
        )
        batch_op.drop_column("excerpt_sealed_id")
        batch_op.drop_column("poc_sealed_id")
    with op.batch_alter_table("eval_artefacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_artefacts_run_id"))
    op.drop_table("eval_artefacts")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_eval_runs_judge_reference_model_id_reference_models"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_eval_runs_reference_model_id_reference_models"), type_="foreignkey"
        )
        batch_op.drop_column("judge_reference_model_id")
        batch_op.drop_column("reference_model_id")
    op.drop_table("reference_models")
