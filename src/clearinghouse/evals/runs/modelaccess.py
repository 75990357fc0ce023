"""How a run reaches a model: one function builds every Inspect model, and runs get a minimal
environment.

Inspect's providers (and the OpenAI client under them) fall back to the process environment:
`<SERVICE>_API_KEY`, `<SERVICE>_BASE_URL`, `OPENAI_API_KEY`, `INSPECT_EVAL_MODEL_BASE_URL`.
A worker's environment may hold the operator's own provider keys, so a model a user chose must
never be built in a way that reads them. `inspect_model` always passes an explicit key (a
non-secret placeholder when the model has none) and an explicit base URL; `minimal_environment`
also removes provider credentials and endpoints from the worker's environment for the run's
duration, so nothing that Inspect or a library under it reads later can find them either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inspect_ai.model import Model, get_model

from clearinghouse.core.net import OutboundPolicy, guarded_async_client
from clearinghouse.evals.errors import ReferenceModelRefused

# Sent when a reference model was registered without a key: never empty (Inspect would then
# read `<SERVICE>_API_KEY` from the environment), never a secret.
NO_KEY = "no-key"

_SPEC = re.compile(r"^openai-api/[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")

# Names of variables that carry provider credentials or endpoints. Our own configuration
# (CLEARINGHOUSE_*) stays: Inspect never reads it and the sandbox clears the environment.
_SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_BASE_URL|_API_BASE|_ENDPOINT)"
    r"|^(OPENAI|ANTHROPIC|AZURE|AWS|GOOGLE|GEMINI|VERTEX|MISTRAL|GROQ|TOGETHER|HF|HUGGING"
    r"|OPENROUTER|FIREWORKS|DEEPSEEK|XAI|GROK|PERPLEXITY|CLOUDFLARE|SAMBANOVA|MOONSHOT|OLLAMA"
    r"|VLLM|SGLANG|LLAMA|INSPECT_EVAL_MODEL|INSPECT_GRADER|INSPECT_EVAL_ROLE)",
    re.IGNORECASE,
)


def check_spec(spec: str) -> str:
    """Only `openai-api/<service>/<model>`: models are reached through OpenAI-compatible
    endpoints, and other providers' client libraries read credentials from the environment on
    their own."""
    if not _SPEC.fullmatch(spec):
        raise ReferenceModelRefused(
            "model must be an Inspect spec of the form openai-api/<service>/<model>"
        )
    return spec


def inspect_model(
    spec: str, *, base_url: str, api_key: str | None, policy: OutboundPolicy
) -> Model:
    """The one place an Inspect model is built: explicit key and base URL, never memoized
    (a cached instance could carry another run's key), and its HTTP client is the outbound
    policy's: every connection is checked and pinned at connect time (core/net.py), with no
    proxies, redirects or CA overrides from the environment. Each model gets a fresh client:
    Inspect's provider replaces a closed client with its own unguarded one."""
    check_spec(spec)
    if not base_url:
        raise ReferenceModelRefused("a model needs an explicit base URL")
    return get_model(
        spec,
        base_url=base_url,
        api_key=api_key or NO_KEY,
        memoize=False,
        http_client=guarded_async_client(policy),
    )


def is_provider_variable(name: str) -> bool:
    return not name.upper().startswith("CLEARINGHOUSE_") and bool(_SECRET_NAME.search(name))


@contextmanager
def minimal_environment(inspect_home: Path) -> Iterator[list[str]]:
    """Remove provider credentials and endpoints from this process's environment while a run
    executes; put them back afterwards. Yields the names removed (for the run's config).

    Inspect's own data and cache directories (traces, sample buffers) are pointed at
    `inspect_home`, inside the instance's data directory, so nothing of a run is written to the
    worker's home directory, outside retention and the seal.

    The environment is process-wide: a worker runs one job at a time, and the API server never
    executes runs, so nothing else in the process needs these meanwhile."""
    removed = {k: v for k, v in os.environ.items() if is_provider_variable(k)}
    moved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CACHE_HOME")}
    for name in removed:
        os.environ.pop(name, None)
    inspect_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["XDG_DATA_HOME"] = str(inspect_home / "data")
    os.environ["XDG_CACHE_HOME"] = str(inspect_home / "cache")
    try:
        yield sorted(removed)
    finally:
        for name, old in moved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        for name, value in removed.items():
            os.environ.setdefault(name, value)
