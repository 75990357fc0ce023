"""The `bwrap` sandbox for Inspect AI, registered through the `inspect_ai` entry-point group.

    Task(..., sandbox="bwrap")                                  # no network
    Task(..., sandbox=("bwrap", BwrapConfig(network="private")))  # a private network

A sample may ask for a target service in its private network through its metadata:
`{"service": {"cmd": [...], "dir": "/host/dir", "port": 8080}}`. The service's files are
mounted at /service in the service's own view only; the agent cannot read them.

Liveness: `ensure_alive()` is called by our scorers before they score. A sandbox that the agent
broke (workdir removed, namespace gone) raises `SandboxBroken`, which Inspect records as a
sample *error*, never as a pass.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Union, overload

from inspect_ai.util import (
    ExecResult,
    SandboxEnvironment,
    SandboxEnvironmentConfigType,
    sandbox,
    sandboxenv,
)
from pydantic import BaseModel

from clearinghouse.sandbox.bwrap import WORKDIR, Limits, Network, Sandbox
from clearinghouse.sandbox.errors import SandboxBroken


class BwrapConfig(BaseModel, frozen=True):
    network: Network = Network.none
    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3
    processes: int = 256
    wall_seconds: float = 180.0
    tmp_bytes: int = 128 * 1024**2

    def limits(self) -> Limits:
        return Limits(
            cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_bytes,
            processes=self.processes,
            wall_seconds=self.wall_seconds,
            tmp_bytes=self.tmp_bytes,
        )


def _config(config: SandboxEnvironmentConfigType | None) -> BwrapConfig:
    if isinstance(config, BwrapConfig):
        return config
    if config is None or isinstance(config, str):
        return BwrapConfig()
    return BwrapConfig.model_validate(config.model_dump())


@sandboxenv(name="bwrap")
class BwrapSandboxEnvironment(SandboxEnvironment):
    def __init__(self, box: Sandbox) -> None:
        super().__init__()
        self.box = box

    @classmethod
    def config_deserialize(cls, config: dict[str, Any]) -> BaseModel:
        return BwrapConfig(**config)

    @classmethod
    async def sample_init(
        cls, task_name: str, config: SandboxEnvironmentConfigType | None, metadata: dict[str, str]
    ) -> dict[str, SandboxEnvironment]:
        cfg = _config(config)
        box = Sandbox(network=cfg.network, limits=cfg.limits()).start()
        service = metadata.get("service")
        if service:
            spec = json.loads(service) if isinstance(service, str) else service
            try:
                box.start_service(
                    list(spec["cmd"]), files_dir=Path(spec["dir"]), ready_port=spec.get("port")
                )
            except Exception:
                box.close()
                raise
        return {"default": cls(box)}

    @classmethod
    async def sample_cleanup(
        cls,
        task_name: str,
        config: SandboxEnvironmentConfigType | None,
        environments: dict[str, SandboxEnvironment],
        interrupted: bool,
    ) -> None:
        for env in environments.values():
            env.as_type(BwrapSandboxEnvironment).box.close()

    async def exec(
        self,
        cmd: list[str],
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: int | None = None,
        timeout_retry: bool = True,
        concurrency: bool = True,
    ) -> ExecResult[str]:
        if self.box.root is None or not self.box.workdir.is_dir():
            raise SandboxBroken("the sample's workdir is gone")
        outcome = await self.box.exec(cmd, input=input, cwd=cwd, env=env, timeout=timeout)
        if outcome.timed_out and timeout is not None:
            raise TimeoutError(f"command timed out after {timeout}s")
        return ExecResult(
            success=outcome.returncode == 0,
            returncode=outcome.returncode,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
        )

    def _host_path(self, file: str) -> Path:
        path = PurePosixPath(file)
        if path.is_absolute():
            try:
                path = path.relative_to(WORKDIR)
            except ValueError:
                raise PermissionError(
                    f"{file}: only {WORKDIR} is writable in this sandbox"
                ) from None
        host = (self.box.workdir / path).resolve()
        if not host.is_relative_to(self.box.workdir.resolve()):
            raise PermissionError(f"{file} escapes the sandbox workdir")
        return host

    async def write_file(self, file: str, contents: str | bytes) -> None:
        host = self._host_path(file)
        data = contents.encode() if isinstance(contents, str) else contents
        self.box.put_file(
            str(host.relative_to(self.box.workdir.resolve())),
            data,
            executable=data[:4] == b"\x7fELF",
        )

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    async def read_file(self, file: str, text: bool = True) -> Union[str | bytes]:  # noqa: UP007 - Inspect's signature
        host = self._host_path(file)
        if not host.is_file():
            raise FileNotFoundError(file)
        data = host.read_bytes()
        return data.decode(errors="replace") if text else data


async def ensure_alive() -> None:
    """Raise `SandboxBroken` unless the current sample's sandbox still works."""
    try:  # Inspect hands out a proxy that records events; as_type() unwraps it
        env = sandbox().as_type(BwrapSandboxEnvironment)
    except TypeError:
        return  # another kind of sandbox: its provider checks itself
    if not await env.box.alive():
        raise SandboxBroken(
            "the sandbox stopped working during the sample; this is an error, not a score"
        )
