"""The CSAF trusted provider: time to rebuild the whole directory (render, hash and sign every
document, write every feed) for N advisories, and an incremental update after one advisory
changed. SQLite in a temporary directory; synthetic OSV records (one package range each).

    python bench/bench_csaf_provider.py [N] [REPEATS]     (default N=1000, REPEATS=3)

Prints the medians; docs/benchmarks.md records them with the machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import build_services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Environment, Settings
from clearinghouse.storage import migrate
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.publication.provider import build
from clearinghouse.vulns.records import upsert_batch


def record(i: int, summary: str = "overflow") -> dict[str, object]:
    return canonical(
        {
            "id": f"BENCH-{i:06d}",
            "summary": f"{summary} in bench-{i}",
            "details": "a crafted input overflows a buffer",
            "published": f"{2015 + i % 10}-01-01T00:00:00Z",
            "modified": "2026-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"bench-{i}"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2"}]}
                    ],
                }
            ],
        }
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="csafb") as tmp:
        settings = Settings(env=Environment.test, var_dir=Path(tmp) / "var")  # type: ignore[call-arg]
        svc = build_services(settings)
        migrate.upgrade(svc.db)
        for start in range(0, n, 1000):
            with svc.db.transaction() as s:
                upsert_batch(s, [record(i) for i in range(start, min(n, start + 1000))])
        system = Principal.system()
        t = time.perf_counter()
        first = build(svc, system)
        first_s = time.perf_counter() - t  # includes the key's generation
        full, incremental, noop = [], [], []
        for r in range(repeats):
            t = time.perf_counter()
            build(svc, system, full=True)
            full.append(time.perf_counter() - t)
            with svc.db.transaction() as s:
                s.execute(
                    update(Vulnerability)
                    .where(Vulnerability.source_id == "BENCH-000007")
                    .values(record=record(7, f"changed {r}"), updated_at=utcnow())
                )
            t = time.perf_counter()
            step = build(svc, system, ids=None)
            incremental.append(time.perf_counter() - t)
            assert step.written == 1, step
            t = time.perf_counter()
            build(svc, system)
            noop.append(time.perf_counter() - t)
        print(f"machine: {machine()}")
        print(f"advisories: {n} (documents {first.documents}); first build {first_s:.1f} s")
        print(f"full rebuild (re-sign all): median {statistics.median(full):.2f} s of {full}")
        print(
            f"incremental, one advisory changed: median {statistics.median(incremental) * 1000:.0f}"
            f" ms; nothing changed: median {statistics.median(noop) * 1000:.0f} ms"
        )
        svc.db.dispose()


if __name__ == "__main__":
    main()
