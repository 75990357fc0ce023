"""Import rate of all the OSV data in ../shared/data (PyPA, Go, RustSec), in records/s.

Peer, in the same run: parsing the same files with orjson (the floor: reading the bytes and
decoding the JSON, nothing stored). Target (TARGETS.md): >= 5k records/s on SQLite and >= 3k/s
on PostgreSQL. PostgreSQL is measured when CLEARINGHOUSE_BENCH_POSTGRES_URL (or the tests'
CLEARINGHOUSE_TEST_POSTGRES_URL) names a server; a scratch database is created and dropped.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median

from clearinghouse.accounts.policy import Principal
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from clearinghouse.vulns.intake.osv import import_file

DATA = Path(
    os.environ.get(
        "CLEARINGHOUSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
FILES = [
    DATA / "osv-pypa" / "osv-pypa.jsonl.gz",
    DATA / "osv-go" / "osv-go.jsonl.gz",
    DATA / "rustsec" / "osv-rustsec.jsonl.gz",
]
RUNS = 3


def parse_rate() -> tuple[int, float]:
    t = time.perf_counter()
    n = 0
    for path in FILES:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                orjson.loads(line)
                n += 1
    return n, n / (time.perf_counter() - t)


def import_rate(url: str) -> tuple[int, float]:
    db = Database(url)
    migrate.upgrade(db)
    t = time.perf_counter()
    n = 0
    for path in FILES:
        result = import_file(db, Principal.system(), path)
        assert not result.rejected, result.rejected[:3]
        n += result.created
    rate = n / (time.perf_counter() - t)
    db.dispose()
    return n, rate


def postgres_run(base: str) -> tuple[int, float]:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "clearinghouse_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "clearinghouse_bench"'))
    try:
        url = (
            make_url(base).set(database="clearinghouse_bench").render_as_string(hide_password=False)
        )
        return import_rate(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "clearinghouse_bench" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    if not all(p.exists() for p in FILES):
        sys.exit(f"shared data not found under {DATA} (set CLEARINGHOUSE_SHARED_DATA)")
    print(f"machine: {machine()}")
    parse, sqlite, pg = [], [], []
    pg_url = os.environ.get("CLEARINGHOUSE_BENCH_POSTGRES_URL") or os.environ.get(
        "CLEARINGHOUSE_TEST_POSTGRES_URL"
    )
    for run in range(RUNS):
        n, rate = parse_rate()
        parse.append(rate)
        with tempfile.TemporaryDirectory() as tmp:
            _, rate = import_rate(f"sqlite:///{tmp}/bench.db")
            sqlite.append(rate)
        if pg_url:
            _, rate = postgres_run(pg_url)
            pg.append(rate)
        print(
            f"run {run + 1}: {n} records; orjson parse {parse[-1]:,.0f}/s; "
            f"SQLite {sqlite[-1]:,.0f}/s" + (f"; PostgreSQL {pg[-1]:,.0f}/s" if pg else "")
        )
    print(f"\nmedian of {RUNS} runs, {n} records:")
    print(f"  orjson parse (peer)  {median(parse):>10,.0f} records/s")
    print(
        f"  import, SQLite       {median(sqlite):>10,.0f} records/s  "
        f"ratio to parse {median(sqlite) / median(parse):.3f}  target >= 5,000/s: "
        f"{'met' if median(sqlite) >= 5000 else 'NOT met'}"
    )
    if pg:
        print(
            f"  import, PostgreSQL   {median(pg):>10,.0f} records/s  "
            f"ratio to parse {median(pg) / median(parse):.3f}  target >= 3,000/s: "
            f"{'met' if median(pg) >= 3000 else 'NOT met'}"
        )
    else:
        print("  import, PostgreSQL   skipped (set CLEARINGHOUSE_BENCH_POSTGRES_URL)")


if __name__ == "__main__":
    main()
