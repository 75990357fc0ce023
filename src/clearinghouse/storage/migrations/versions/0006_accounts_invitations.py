"""accounts (invitations, per-organisation email uniqueness)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("first_admin", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "accepted_at", clearinghouse.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("accepted_user_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_invitations_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invitations_code_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_org_id"), ["org_id"], unique=False)
    # Emails become unique per organisation (checked by the service under a lock), not across
    # the instance: the global constraint answered "exists elsewhere" to any org admin.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=False)
    # Before this revision a coordinator admin could mint a token for another organisation's
    # user, and so held that user's credentials. The audit trail says which tokens were minted
    # from outside the user's organisation: revoke them. (An organisation left with no working
    # token is re-seated as docs/user-guide.md says.)
    op.execute(
        sa.text(
            "UPDATE api_tokens SET revoked_at = :now WHERE revoked_at IS NULL AND id IN ("
            " SELECT e.subject_id FROM audit_events e"
            " JOIN api_tokens t ON t.id = e.subject_id"
            " JOIN memberships m ON m.user_id = t.user_id"
            " WHERE e.tag = 'accounts:token:create' AND e.actor_org_id IS NOT NULL"
            " AND e.actor_org_id <> m.org_id)"
        ).bindparams(
            sa.bindparam(
                "now",
                datetime.now(UTC),
                type_=clearinghouse.storage.base.UTCDateTime(timezone=True),
            )
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))
        batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_org_id"))
    op.drop_table("invitations")
