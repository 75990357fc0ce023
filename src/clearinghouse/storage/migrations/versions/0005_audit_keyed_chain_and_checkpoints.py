"""audit (keyed chain, checkpoints, acting token)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Existing events stay as they are (SHA-256 chained): the migration cannot reach the master key,
so it cannot key them. The application creates the audit key on the first event it writes
after this migration and seals, with the key, how many events were there before it and the
head hash they had; `audit verify` checks those legacy events as before and every later event
with the key (docs/audit.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_keys", "audit_checkpoints")


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no batch copy): on SQLite a table copy would drop the
    # append-only triggers of audit_events.
    op.add_column("audit_events", sa.Column("actor_token_id", sa.String(length=40), nullable=True))
    op.create_table(
        "audit_keys",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("sealed_id", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["sealed_id"], ["sealed_values.id"], name=op.f("fk_audit_keys_sealed_id_sealed_values")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_keys")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("size", BIGINT, nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(op.f("ix_audit_checkpoints_size"), "audit_checkpoints", ["size"])
    # Append-only, like audit_events (a superuser can drop these triggers; the signatures and
    # the copies third parties keep are what detect that).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.drop_index(op.f("ix_audit_checkpoints_size"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_keys")
    op.drop_column("audit_events", "actor_token_id")  # no batch copy: keeps the triggers
