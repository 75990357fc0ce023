"""The bubblewrap sandbox: no network, no writes outside the workdir, limits enforced, nothing
left behind, and a broken sandbox is an error rather than a pass."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clearinghouse.sandbox.bwrap import CGROUP_ROOT, Limits, Network, Sandbox
from tests.support.needs import needs_bwrap

pytestmark = needs_bwrap
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="private networks and cgroup limits need root"
)


@pytest.fixture
def host_server():
    """A real TCP server on the host's loopback, which the sandbox must not reach."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    accepted: list[bool] = []

    def serve() -> None:
        srv.settimeout(5)
        try:
            conn, _ = srv.accept()
            accepted.append(True)
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    srv.close()


def _connect(port: int) -> list[str]:
    return [
        "python3",
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {port}), 2); print('CONNECTED')",
    ]


def test_no_network_by_default(host_server) -> None:
    port, accepted = host_server
    with Sandbox() as box:
        out = box.run(_connect(port))
        dns = box.run(["python3", "-c", "import socket; socket.getaddrinfo('pypi.org', 443)"])
    assert out.returncode != 0 and "CONNECTED" not in out.stdout
    assert dns.returncode != 0
    assert accepted == []


@needs_root
def test_private_network_reaches_its_service_but_not_the_host(host_server, tmp_path: Path) -> None:
    port, accepted = host_server
    service = tmp_path / "svc"
    service.mkdir()
    (service / "server.py").write_text(
        "import http.server\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'from-service')\n"
        "http.server.HTTPServer(('127.0.0.1', 8080), H).serve_forever()\n"
    )
    with Sandbox(network=Network.private) as box:
        box.start_service(["python3", "/service/server.py"], files_dir=service, ready_port=8080)
        got = box.run(["curl", "-s", "http://127.0.0.1:8080/"])
        host = box.run(_connect(port))
        hidden = box.run(["cat", "/service/server.py"])
        netns = box.netns
    assert got.stdout == "from-service"
    assert host.returncode != 0 and accepted == []
    assert hidden.returncode != 0  # the agent cannot read the service's files
    assert (
        netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    )


def test_writes_outside_the_workdir_fail() -> None:
    with Sandbox() as box:
        out = box.run(
            [
                "sh",
                "-c",
                "echo ok > /workspace/a && echo ok > /tmp/b && "
                "for p in /usr/x /etc/x /x /home/x; do (echo no > $p) 2>/dev/null && echo WROTE $p; done; true",
            ]
        )
        assert (box.workdir / "a").read_text() == "ok\n"
    assert "WROTE" not in out.stdout
    for p in ("/usr/x", "/etc/x", "/x"):
        assert not Path(p).exists()


def test_host_files_are_invisible() -> None:
    with Sandbox() as box:
        out = box.run(
            ["sh", "-c", "ls /root /home /work /var 2>&1; cat /etc/shadow 2>&1 | head -1"]
        )
    assert "No such file" in out.stdout
    assert "root:" not in out.stdout


def test_wall_time_limit_kills() -> None:
    with Sandbox(limits=Limits(wall_seconds=1)) as box:
        out = box.run(["sleep", "30"])
    assert out.timed_out and out.returncode == 124


def test_cpu_time_limit_kills() -> None:
    with Sandbox(limits=Limits(cpu_seconds=1, wall_seconds=20)) as box:
        out = box.run(["python3", "-c", "while True: pass"])
    assert (
        out.returncode != 0 and not out.timed_out
    )  # killed by SIGXCPU/SIGKILL before the wall limit


def test_memory_limit() -> None:
    with Sandbox(limits=Limits(memory_bytes=128 * 1024**2, wall_seconds=20)) as box:
        out = box.run(["python3", "-c", "x = bytearray(512 * 1024 * 1024); print('ALLOCATED')"])
    assert out.returncode != 0 and "ALLOCATED" not in out.stdout


def test_tmp_is_size_capped() -> None:
    with Sandbox(limits=Limits(tmp_bytes=8 * 1024**2)) as box:
        out = box.run(["sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1M count=32 2>&1; echo rc=$?"])
    assert "No space left" in out.stdout


@needs_root
def test_fork_bomb_is_contained_and_cleaned_up() -> None:
    with Sandbox(limits=Limits(processes=32, wall_seconds=5)) as box:
        out = box.run(["sh", "-c", "for i in $(seq 1 200); do sleep 30 & done; wait"])
        group = next(g for g in box.cgroups if "pids" in str(g))
        assert int((group / "pids.max").read_text()) == 32
    assert out.returncode != 0 or out.timed_out
    assert not group.exists()


def test_teardown_kills_detached_processes(tmp_path: Path) -> None:
    # A duration no other process on the host uses: concurrent runs of this test must not see
    # each other's sleepers.
    marker = f"300.{secrets.randbelow(10**9):09d}"
    box = Sandbox(limits=Limits(wall_seconds=5)).start()
    box.run(["sh", "-c", f"setsid sleep {marker} > /dev/null 2>&1 &"])
    root = box.root
    box.close()
    assert root is not None and not root.exists()
    leftover = subprocess.run(
        ["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True
    ).stdout
    assert leftover.strip() == "" or os.geteuid() != 0
    if os.geteuid() == 0:
        assert not list((CGROUP_ROOT / "pids" / "clearinghouse").glob(box.name))


def test_cli_sandbox_exec() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "sandbox",
            "exec",
            "--",
            "sh",
            "-c",
            "id -u; exit 7",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 7 and r.stdout.strip() == "1000"
