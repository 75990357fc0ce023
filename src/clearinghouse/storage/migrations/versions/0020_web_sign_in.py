"""accounts: web sign-in (issue 16): users' password hashes, web sessions, failed sign-ins

`users.password_hash` (nullable: a user without one signs in with API tokens only);
`web_sessions` (only hashes of the cookie secret and the CSRF token); `web_login_failures`
(the sign-in rate limit, keyed by a hash of e-mail and client address).

Revision ID: 0020
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clearinghouse.storage.base

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

_TS = clearinghouse.storage.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_web_sessions_secret_hash")),
    )
    with op.batch_alter_table("web_sessions") as batch:
        batch.create_index(batch.f("ix_web_sessions_user_id"), ["user_id"], unique=False)
    op.create_table(
        "web_login_failures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_login_failures")),
    )
    with op.batch_alter_table("web_login_failures") as batch:
        batch.create_index(batch.f("ix_web_login_failures_key_hash"), ["key_hash"], unique=False)


def downgrade() -> None:
    op.drop_table("web_login_failures")
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
