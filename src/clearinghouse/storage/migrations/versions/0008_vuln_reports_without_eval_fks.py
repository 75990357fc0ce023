"""vulns imports no evals: drop the foreign keys from vulnerability_reports to the eval tables

`vulnerability_reports.eval_run_id` and `.eval_report_id` stay (same columns, same rows, the
index on the run and the one report per staged finding); only the foreign keys into
`eval_runs` and `eval_vulnerability_reports` go. The check they made (a report names a run,
and a finding, that exist) is made by intake (`vulns/reports.py` through the `EvalRuns` seam
that the evals domain fills), which also checks that the run is the reporter's.

Batch mode: on SQLite the table is rebuilt (migrate.upgrade turns foreign keys off around it
and checks them all before committing); on PostgreSQL the constraints are dropped in place.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    # (name, referred table, local column), as 0004 created them. The names are marked as
    # final (`f`): PostgreSQL's 63-character limit shortened the first one then (with a hash
    # suffix), and SQLAlchemy shortens it the same way now.
    (
        "fk_vulnerability_reports_eval_report_id_eval_vulnerability_reports",
        "eval_vulnerability_reports",
        "eval_report_id",
    ),
    ("fk_vulnerability_reports_eval_run_id_eval_runs", "eval_runs", "eval_run_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("vulnerability_reports", schema=None) as batch_op:
        for name, _table, _column in FOREIGN_KEYS:
            batch_op.drop_constraint(batch_op.f(name), type_="foreignkey")


def downgrade() -> None:
    # Fails if a report names a run or finding that does not exist (the database would then
    # refuse the constraint): such rows must be fixed before going back.
    with op.batch_alter_table("vulnerability_reports", schema=None) as batch_op:
        for name, table, column in FOREIGN_KEYS:
            batch_op.create_foreign_key(batch_op.f(name), table, [column], ["id"])
