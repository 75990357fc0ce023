"""The real server, as a subprocess on a free loopback port, for tests that need real HTTP
(pip-audit, schemathesis, load)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

# Imports (Inspect, scipy, the web pages) take about 4 s on an idle machine; a loaded 2-core CI
# box has been seen at ten times that. Waiting is cheap when the server is up early.
START_SECONDS = 120


@contextmanager
def serving(cli_env: dict[str, str], *, start_timeout: float = START_SECONDS) -> Iterator[str]:
    """`clearinghouse serve` against the test database; yields its base URL once it is ready."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile()  # the server's own words, shown if it does not start
    server = subprocess.Popen(
        [sys.executable, "-m", "clearinghouse", "serve", "--port", str(port)],
        env={**cli_env, "CLEARINGHOUSE_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError(f"the server did not start: {log.read()[-3000:]!r}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
