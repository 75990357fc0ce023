"""The public OSV API under concurrent load: `/v1/query` (one package) and `/v1/querybatch`
(1,000 queries per batch), measured with `wrk` on loopback.

Peer, in the same run: nginx serving the very same responses (precomputed from our server) as
static files, the ceiling for any server answering these bytes on this machine. Targets
(TARGETS.md): /v1/query >= 0.15x nginx's requests/s with p99 < 20 ms; querybatch >= 200k
queries/s. Needs `wrk` and `nginx` (`apt-get install wrk nginx-light`) and ../shared/data.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import build_services
from clearinghouse.core.config import Settings
from clearinghouse.storage import migrate
from clearinghouse.vulns.intake.osv import import_file

DATA = Path(
    os.environ.get(
        "CLEARINGHOUSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
FILES = ["osv-pypa/osv-pypa.jsonl.gz", "osv-go/osv-go.jsonl.gz", "rustsec/osv-rustsec.jsonl.gz"]
RUNS, SECONDS, CONNECTIONS = 3, 8, 64
WRK = shutil.which("wrk") or "/usr/bin/wrk"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def queries() -> list[dict[str, Any]]:
    """One query per (package, affected version) in the data: real lookups, mostly hits."""
    out: list[dict[str, Any]] = []
    for name in FILES:
        for line in gzip.open(DATA / name, "rb"):
            rec = orjson.loads(line)
            for aff in rec.get("affected", []):
                pkg = aff.get("package") or {}
                out.extend(
                    {
                        "package": {"ecosystem": pkg["ecosystem"], "name": pkg["name"]},
                        "version": v,
                    }
                    for v in aff.get("versions", [])[:3]
                )
    return out


def wrk(
    url: str, body_file: Path, script_dir: Path, seconds: int = SECONDS, *, gzip_ok: bool = False
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of POSTing body_file to url (asking for gzip, as
    requests-based clients such as pip-audit do, when `gzip_ok`)."""
    lua = script_dir / f"{body_file.stem}{'-gz' if gzip_ok else ''}.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"local f = io.open({json.dumps(str(body_file))}, 'rb')\n"
        "wrk.body = f:read('*a')\nf:close()\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        + ('wrk.headers["Accept-Encoding"] = "gzip"\n' if gzip_ok else "")
    )
    out = subprocess.run(
        [
            WRK,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(lua),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(q: str) -> float:
        value, unit = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return rps, ms("50"), ms("99")


def main() -> None:
    for tool in (WRK, NGINX):
        if not Path(tool).exists():
            sys.exit(f"{tool} is not installed (apt-get install wrk nginx-light)")
    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="osvbench-"))
    tmp.chmod(0o755)  # nginx's workers run unprivileged and read the static files
    db_url = f"sqlite:///{tmp}/bench.db"
    # Through build_services, as the server does: an import writes audit events, which need
    # the vault (a bare Database has none).
    services = build_services(
        Settings(database_url=db_url, env="development", var_dir=tmp / "var", log_level="warning")
    )
    migrate.upgrade(services.db)
    for name in FILES:
        import_file(services.db, Principal.system(), DATA / name)
    services.db.dispose()
    qs = queries()
    single = (
        next(q for q in qs if q["package"]["name"] == "django")
        if any(q["package"]["name"] == "django" for q in qs)
        else qs[0]
    )
    batch = {"queries": [qs[i * len(qs) // 1000] for i in range(1000)]}
    (tmp / "query.json").write_text(json.dumps(single))
    (tmp / "batch.json").write_text(json.dumps(batch))

    port = free_port()
    env = {
        **os.environ,
        "CLEARINGHOUSE_DATABASE_URL": db_url,
        "CLEARINGHOUSE_ENV": "development",
        "CLEARINGHOUSE_VAR_DIR": str(tmp / "var"),
        "CLEARINGHOUSE_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "clearinghouse", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx_port = free_port()
    static = tmp / "static"
    (static / "v1").mkdir(parents=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The peer's files: our server's own answers, byte for byte.
        for route, body in (("query", single), ("querybatch", batch)):
            r = httpx.post(f"{base}/v1/{route}", json=body, timeout=120)
            r.raise_for_status()
            (static / "v1" / route).write_bytes(r.content)
        hits = sum(
            1 for x in orjson.loads((static / "v1" / "querybatch").read_bytes())["results"] if x
        )
        conf = tmp / "nginx.conf"
        conf.write_text(
            f"worker_processes 2; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err; daemon off;\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; default_type application/json;\n"
            f"  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
            f"  server {{ listen 127.0.0.1:{nginx_port}; root {static};\n"
            "    client_max_body_size 64m; error_page 405 =200 $uri; } }\n"
        )
        nginx = subprocess.Popen(
            [NGINX, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
        try:
            peer = f"http://127.0.0.1:{nginx_port}"
            assert (
                httpx.post(f"{peer}/v1/query", json=single).content
                == (static / "v1" / "query").read_bytes()
            )
            # Warm-up, not measured: each server worker builds its public index on its first
            # query, as after any restart.
            for route, body_file in (("query", "query.json"), ("querybatch", "batch.json")):
                wrk(f"{base}/v1/{route}", tmp / body_file, tmp, seconds=2)
            results: dict[str, list[tuple[float, float, float]]] = {
                k: [] for k in ("q", "qn", "b", "bn", "qz", "bz")
            }
            for run in range(RUNS):
                results["q"].append(wrk(f"{base}/v1/query", tmp / "query.json", tmp))
                results["qn"].append(wrk(f"{peer}/v1/query", tmp / "query.json", tmp))
                results["b"].append(wrk(f"{base}/v1/querybatch", tmp / "batch.json", tmp))
                results["bn"].append(wrk(f"{peer}/v1/querybatch", tmp / "batch.json", tmp))
                results["qz"].append(wrk(f"{base}/v1/query", tmp / "query.json", tmp, gzip_ok=True))
                results["bz"].append(
                    wrk(f"{base}/v1/querybatch", tmp / "batch.json", tmp, gzip_ok=True)
                )
                print(
                    f"run {run + 1}: query {results['q'][-1][0]:,.0f} req/s (nginx {results['qn'][-1][0]:,.0f}); "
                    f"querybatch {results['b'][-1][0]:,.1f} req/s (nginx {results['bn'][-1][0]:,.0f})"
                )
        finally:
            nginx.terminate()
            nginx.wait()
    finally:
        server.terminate()
        server.wait()

    def med(key: str, i: int) -> float:
        return median([r[i] for r in results[key]])

    print(
        f"\n{len(qs)} distinct queries in the data; the batch has 1,000 ({hits} with hits); "
        f"{CONNECTIONS} connections, {SECONDS} s per measurement, median of {RUNS} runs"
    )
    print(
        f"  /v1/query       ours  {med('q', 0):>9,.0f} req/s  p50 {med('q', 1):6.2f} ms  p99 {med('q', 2):6.2f} ms"
    )
    print(
        f"                  nginx {med('qn', 0):>9,.0f} req/s  p50 {med('qn', 1):6.2f} ms  p99 {med('qn', 2):6.2f} ms"
    )
    ratio = med("q", 0) / med("qn", 0)
    print(
        f"                  ratio {ratio:.3f} (target >= 0.15: {'met' if ratio >= 0.15 else 'NOT met'}); "
        f"p99 < 20 ms: {'met' if med('q', 2) < 20 else 'NOT met'}"
    )
    qps = med("b", 0) * 1000
    print(
        f"  /v1/querybatch  ours  {med('b', 0):>9,.1f} req/s = {qps:,.0f} queries/s  "
        f"p50 {med('b', 1):6.1f} ms  p99 {med('b', 2):6.1f} ms  (target >= 200k queries/s: "
        f"{'met' if qps >= 200_000 else 'NOT met'})"
    )
    print(
        f"                  nginx {med('bn', 0):>9,.0f} req/s  ratio {med('b', 0) / med('bn', 0):.4f}"
    )
    print(
        f"  with Accept-Encoding: gzip (nginx peer as above, uncompressed):\n"
        f"  /v1/query       ours  {med('qz', 0):>9,.0f} req/s  p50 {med('qz', 1):6.2f} ms  "
        f"p99 {med('qz', 2):6.2f} ms  ratio {med('qz', 0) / med('qn', 0):.3f}\n"
        f"  /v1/querybatch  ours  {med('bz', 0):>9,.1f} req/s = {med('bz', 0) * 1000:,.0f} "
        f"queries/s  p50 {med('bz', 1):6.1f} ms  p99 {med('bz', 2):6.1f} ms"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
