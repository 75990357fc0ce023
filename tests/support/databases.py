"""Empty databases (no schema) for the tests that migrate step by step, on both backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def blank_database(request: pytest.FixtureRequest, tmp_path: Path, label: str) -> Iterator[str]:
    """The URL of an empty database of the backend `request.param` names ("sqlite" or
    "postgresql"). PostgreSQL: one of its own on the test server, named with this checkout's
    suffix, `label` and the xdist worker, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / f'{label}.db'}"
        return
    pg_url = os.environ.get("CLEARINGHOUSE_TEST_POSTGRES_URL")
    if not pg_url:
        pytest.skip("PostgreSQL not configured: set CLEARINGHOUSE_TEST_POSTGRES_URL")
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    suffix = os.environ.get("CLEARINGHOUSE_TEST_DB_SUFFIX", "")
    name = f"clearinghouse_test_{suffix}{label}_{worker}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
