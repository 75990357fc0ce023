"""Engine and transactions.

SQLite runs in WAL mode with `BEGIN IMMEDIATE`, so writers queue instead of failing late with
SQLITE_BUSY; PostgreSQL runs at READ COMMITTED and uses row locks (`SKIP LOCKED`) where several
processes compete. Every unit of work is one transaction: `with db.transaction() as session:`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool


def _json_dumps(value: Any) -> str:
    # orjson: several times faster than json for the JSON columns (OSV records, configs).
    return orjson.dumps(value).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Read-only work (Database.reading) takes no write lock: WAL readers never block.
        conn.exec_driver_sql("BEGIN" if conn.info.get("read_only") else "BEGIN IMMEDIATE")


class Database:
    """The engine plus a session factory. One per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._probe_engine: Engine | None = None
        self._probe_conn: Any = None
        self._probe_lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """How many connections the pool hands out before callers must wait."""
        pool = self.engine.pool
        size = getattr(pool, "size", lambda: 5)()
        overflow = getattr(pool, "_max_overflow", 0)
        return int(size + max(0, overflow))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction (public, anonymous reads). On SQLite it does not take the
        write lock, so reads run in parallel with each other and with one writer; on
        PostgreSQL it is READ ONLY. It always rolls back."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.info["read_only"] = True
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    if self.dialect == "postgresql":
                        session.execute(text("SET TRANSACTION READ ONLY"))
                    yield session
                    session.rollback()
            finally:
                conn.info.pop("read_only", None)
                conn.rollback()

    def probe(self, sql: str) -> Any:
        """The first column of the first row of a read-only `sql`, run in autocommit on one
        dedicated connection, outside the pool and the ORM: tens of microseconds, for freshness
        checks on hot paths (the public OSV API asks on every request whether anything changed).
        Calls are serialised; a broken connection is replaced once."""
        with self._probe_lock:
            for attempt in (1, 2):
                try:
                    if self._probe_conn is None:
                        if self._probe_engine is None:
                            self._probe_engine = make_engine(self.url, poolclass=StaticPool)
                        conn = self._probe_engine.raw_connection()
                        if self.dialect == "postgresql":
                            conn.driver_connection.autocommit = True  # type: ignore[union-attr]
                        self._probe_conn = conn
                    cursor = self._probe_conn.cursor()
                    try:
                        cursor.execute(sql)
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                    return row[0] if row else None
                except Exception:
                    self._close_probe()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    def _close_probe(self) -> None:
        conn, self._probe_conn = self._probe_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                conn.invalidate()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        with self._probe_lock:
            self._close_probe()
            if self._probe_engine is not None:
                self._probe_engine.dispose()
                self._probe_engine = None
        self.engine.dispose()


def lock(session: Session, name: str) -> None:
    """Serialise transactions that use the same `name` until this transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite needs nothing, because
    `BEGIN IMMEDIATE` already gives every write transaction the database's single write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
