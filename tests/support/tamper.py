"""The attacker of the audit tests: a database superuser, who can switch the append-only
triggers off and rewrite or delete rows, but has no master key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text

from clearinghouse.container import Services

AUDIT_TABLES = ("audit_events", "audit_checkpoints", "audit_keys")


@contextmanager
def superuser(services: Services) -> Iterator[Connection]:
    """A connection that writes around the append-only triggers, as a superuser could."""
    with services.db.engine.begin() as c:
        if services.db.dialect == "postgresql":
            c.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
        else:
            for table in AUDIT_TABLES:
                c.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                c.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        yield c


def tamper(services: Services, *stmts: str, **params: Any) -> None:
    with superuser(services) as c:
        for stmt in stmts:
            c.execute(text(stmt), params)
