"""A bubblewrap sandbox for untrusted agent code, with no Docker.

Each sample gets:

* its own mount namespace: a read-only view of the system (/usr, /etc), a writable per-sample
  workdir at /workspace, a size-capped tmpfs /tmp, and nothing else of the host;
* no network (`--unshare-net`: loopback only), or a *private* network namespace shared by the
  sample's commands and its target service, and by nothing else (`ip netns`, root only);
* its own user, pid, ipc and uts namespaces, no capabilities, and a new session;
* limits: CPU seconds, file size and open files by prlimit; memory and process count by cgroup v1
  (`memory`, `pids`) where writable, else address space and `nproc` by prlimit; wall time by a
  kill timer.

Teardown kills every process in the sample's cgroup (so processes the agent forked or detached
die too), stops services, deletes the network namespace and removes the workdir.

A process sandbox is a weaker boundary than a VM: a kernel exploit escapes it. Evaluators
should run untrusted models' code on hosts that hold nothing else of value.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from clearinghouse.core.errors import ConfigurationError
from clearinghouse.sandbox.errors import SandboxBroken

log = logging.getLogger(__name__)

WORKDIR = "/workspace"
CGROUP_ROOT = Path("/sys/fs/cgroup")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


class Network(StrEnum):
    none = "none"
    private = "private"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3
    processes: int = 256
    wall_seconds: float = 180.0
    tmp_bytes: int = 128 * 1024**2
    file_bytes: int = 512 * 1024**2
    open_files: int = 1024


@dataclass
class ExecOutcome:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise ConfigurationError(
            "bubblewrap is not installed (apt-get install bubblewrap); the evaluation sandbox needs it",
            code="bwrap_missing",
        )
    return path


def _is_root() -> bool:
    return os.geteuid() == 0


def _cgroup_usable(controller: str) -> bool:
    base = CGROUP_ROOT / controller
    return _is_root() and (base / "cgroup.procs").exists() and os.access(base, os.W_OK)


@dataclass
class Sandbox:
    """One sample's sandbox. Use as a context manager, or call `start()` and `close()`."""

    network: Network = Network.none
    limits: Limits = field(default_factory=Limits)
    name: str = field(default_factory=lambda: "ch-" + uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        # As root, commands drop to a per-sample unprivileged host uid before bwrap: host files
        # owned by root then look like nobody's inside (an uid-0 mapping would make the sandbox
        # user their owner, and /etc/shadow readable), and RLIMIT_NPROC counts this sample only.
        self.host_uid = 100_000 + secrets.randbelow(50_000) if _is_root() else os.geteuid()
        self.root: Path | None = None
        self.cgroups: list[Path] = []
        self.netns: str | None = None
        self.services: list[subprocess.Popen[bytes]] = []
        self.enforced: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        bwrap_path()
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.root.chmod(0o711)  # the unprivileged sandbox uid must traverse it
        (self.root / "workspace").mkdir()
        (self.root / "workspace").chmod(0o777)
        for controller, setting, value in (
            ("memory", "memory.limit_in_bytes", self.limits.memory_bytes),
            ("pids", "pids.max", self.limits.processes),
        ):
            if _cgroup_usable(controller):
                group = CGROUP_ROOT / controller / "clearinghouse" / self.name
                group.mkdir(parents=True, exist_ok=True)
                (group / setting).write_text(str(value))
                if controller == "memory" and (group / "memory.memsw.limit_in_bytes").exists():
                    try:
                        (group / "memory.memsw.limit_in_bytes").write_text(str(value))
                    except OSError:
                        pass
                self.cgroups.append(group)
                self.enforced[controller] = "cgroup v1"
        if self.network is Network.private:
            if not _is_root() or shutil.which("ip") is None:
                raise ConfigurationError(
                    "a private network namespace needs root and iproute2 (ip netns)",
                    code="netns_unavailable",
                )
            subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
            self.netns = self.name
            subprocess.run(
                ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"],
                check=True,
                capture_output=True,
            )
        return self

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workdir(self) -> Path:
        if self.root is None:
            raise SandboxBroken("the sandbox was not started")
        return self.root / "workspace"

    def put_file(self, relative: str, data: bytes, *, executable: bool = False) -> Path:
        """Write a file into the workdir, owned by the sandbox's user so it can chmod or delete it."""
        path = (self.workdir / relative).resolve()
        if not path.is_relative_to(self.workdir.resolve()):
            raise PermissionError(f"{relative} escapes the sandbox workdir")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
        if _is_root():
            for p in [path, *path.parents]:
                if p == self.workdir:
                    break
                os.chown(p, self.host_uid, self.host_uid)
        return path

    def close(self) -> None:
        """Kill everything the sample started, then remove its namespace, cgroups and files."""
        for proc in self.services:
            if proc.poll() is None:
                _kill_group(proc.pid)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.services.clear()
        for group in self.cgroups:
            _kill_cgroup(group)
        for group in self.cgroups:
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
        self.cgroups.clear()
        if self.netns is not None:
            subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
            self.netns = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # --- building the command ----------------------------------------------------------------

    def argv(
        self,
        cmd: list[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        extra_binds: list[tuple[str, str]] | None = None,
    ) -> list[str]:
        """The full host command line that runs `cmd` inside this sandbox."""
        lim = self.limits
        prlimit = [
            "prlimit",
            f"--cpu={lim.cpu_seconds}",
            f"--fsize={lim.file_bytes}",
            f"--nofile={lim.open_files}",
            "--core=0",
        ]
        if "memory" not in self.enforced:
            prlimit.append(f"--as={lim.memory_bytes}")
            self.enforced.setdefault("memory_as", "prlimit --as")
        prlimit.append(f"--nproc={lim.processes}")
        bwrap = [
            bwrap_path(),
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--unshare-user",
            "--uid",
            "1000",
            "--gid",
            "1000",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
            "--ro-bind",
            "/etc",
            "/etc",
        ]
        for link in ("bin", "lib", "lib64", "sbin"):
            target = Path("/") / link
            if target.is_symlink():
                bwrap += ["--symlink", os.readlink(target), f"/{link}"]
            elif target.exists():
                bwrap += ["--ro-bind", str(target), f"/{link}"]
        bwrap += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(lim.tmp_bytes),
            "--tmpfs",
            "/tmp",
            "--bind",
            str(self.workdir),
            WORKDIR,
        ]
        for src, dst in extra_binds or []:
            bwrap += ["--ro-bind", src, dst]
        if self.netns is not None:
            bwrap.append("--share-net")  # the private namespace we are already in (ip netns exec)
        workdir = cwd if cwd and cwd.startswith("/") else f"{WORKDIR}/{cwd}" if cwd else WORKDIR
        bwrap += [
            "--chdir",
            workdir,
            "--clearenv",
            "--setenv",
            "PATH",
            SANDBOX_PATH,
            "--setenv",
            "HOME",
            WORKDIR,
            "--setenv",
            "LANG",
            "C.UTF-8",
        ]
        for key, value in (env or {}).items():
            bwrap += ["--setenv", key, value]
        # The root of the mount tree is bwrap's own tmpfs: make it read-only too.
        bwrap += ["--remount-ro", "/", "--cap-drop", "ALL", "--", *cmd]
        wrapped = [*prlimit, "--", *bwrap]
        if _is_root():
            uid = str(self.host_uid)
            wrapped = [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--",
                *wrapped,
            ]
        if self.netns is not None:
            wrapped = ["ip", "netns", "exec", self.netns, *wrapped]
        if self.cgroups:
            # Join the sample's cgroups first, so everything it ever forks stays counted and killable.
            joins = " && ".join(f'echo $$ > "{g}/cgroup.procs"' for g in self.cgroups)
            wrapped = ["/bin/sh", "-c", f'{joins} && exec "$@"', "sandbox-enter", *wrapped]
        return wrapped

    # --- running -----------------------------------------------------------------------------

    async def exec(
        self,
        cmd: list[str],
        *,
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> ExecOutcome:
        argv = self.argv(cmd, cwd=cwd, env=env)
        wall = min(timeout or self.limits.wall_seconds, self.limits.wall_seconds)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        data = input.encode() if isinstance(input, str) else input
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), timeout=wall)
        except TimeoutError:
            _kill_group(proc.pid)
            for group in self.cgroups:
                _kill_cgroup(group)
            await proc.wait()
            return ExecOutcome(124, "", f"killed after {wall:.0f}s wall time", timed_out=True)
        stderr = err.decode(errors="replace")
        if proc.returncode != 0 and stderr.startswith("bwrap:"):
            raise SandboxBroken(f"the sandbox failed to start the command: {stderr.strip()[:500]}")
        return ExecOutcome(proc.returncode or 0, out.decode(errors="replace"), stderr)

    def run(
        self,
        cmd: list[str],
        *,
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> ExecOutcome:
        """Synchronous `exec` (no event loop needed), for the CLI, services and tests."""
        wall = min(timeout or self.limits.wall_seconds, self.limits.wall_seconds)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.Popen(
            self.argv(cmd, cwd=cwd, env=env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(data, timeout=wall)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            for group in self.cgroups:
                _kill_cgroup(group)
            proc.communicate()
            return ExecOutcome(124, "", f"killed after {wall:.0f}s wall time", timed_out=True)
        stderr = err.decode(errors="replace")
        if proc.returncode != 0 and stderr.startswith("bwrap:"):
            raise SandboxBroken(f"the sandbox failed to start the command: {stderr.strip()[:500]}")
        return ExecOutcome(proc.returncode, out.decode(errors="replace"), stderr)

    def start_service(
        self,
        cmd: list[str],
        *,
        files_dir: Path,
        ready_port: int | None = None,
        ready_timeout: float = 10.0,
    ) -> None:
        """Start a target service inside the private network, from a host directory the agent
        cannot see (mounted read-only at /service in the service's own view)."""
        if self.netns is None:
            raise ConfigurationError("services need Network.private", code="netns_unavailable")
        if self.root is None:
            raise SandboxBroken("the sandbox was not started")
        # A private copy the unprivileged sandbox uid can read, outside the agent's workdir.
        staged = self.root / f"service-{len(self.services)}"
        shutil.copytree(files_dir, staged)
        for path in [staged, *staged.rglob("*")]:
            path.chmod(0o755 if path.is_dir() or path.stat().st_mode & 0o111 else 0o644)
        argv = self.argv(cmd, cwd="/service", extra_binds=[(str(staged), "/service")])
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.services.append(proc)
        if ready_port is None:
            return
        probe = [
            "python3",
            "-c",
            "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)",
            str(ready_port),
        ]
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SandboxBroken(f"the target service exited with {proc.returncode}")
            if self.run(probe).returncode == 0:
                return
            time.sleep(0.1)
        raise SandboxBroken(f"the target service did not listen on port {ready_port}")

    async def alive(self) -> bool:
        """The liveness check: can the sandbox still run a trivial command in its workdir?"""
        if self.root is None or not self.workdir.is_dir():
            return False
        try:
            outcome = await self.exec(
                ["/bin/sh", "-c", "test -d /workspace && echo alive"], timeout=20
            )
        except SandboxBroken:
            return False
        return outcome.returncode == 0 and outcome.stdout.strip() == "alive"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


KILL_WAIT_SECONDS = 10.0


def _kill_cgroup(group: Path) -> None:
    """SIGKILL every process in the cgroup until it is empty: teardown is complete when it
    returns. A process in the middle of a system call may take a while to die on a loaded
    machine (a fixed 0.4 s once left a detached process behind in CI), so this waits up to
    KILL_WAIT_SECONDS, and says so in the log if something still survives."""
    procs = group / "cgroup.procs"
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    pause = 0.005
    while True:
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            return
        if not pids:
            return
        if time.monotonic() > deadline:
            log.warning("sandbox processes survived SIGKILL", extra={"pids": pids})
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
