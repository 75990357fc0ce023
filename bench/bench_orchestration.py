"""Eval orchestration overhead: `clearinghouse evals run` (a durable job: database, audit,
eval-set with resumable logs, scoring, tiers) against bare `inspect eval` on the same task,
model and limits. Both run as fresh processes against the same local model. Target: <= 1.05x.

Our runs switch off Inspect's control server (a local socket through which a run can be
queried and steered; ours are steered through the audited job system), which `inspect eval`
starts by default. The peer is bare `inspect eval` as it comes; the ratio to a bare run
without the control server (`--ctl-server false`) is printed too, so the two differences can
be told apart.

Also: throughput against the local model endpoint, in samples/s, at several concurrencies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import local_model, machine, median

HERE = Path(__file__).resolve().parent
MODEL = "openai-api/local/smollm2-135m-instruct"
LIMIT, MAX_TOKENS, ROUNDS = 12, 16, 3


def ours(env: dict[str, str], base: str) -> float:
    with tempfile.TemporaryDirectory() as var:
        e = {**env, "CLEARINGHOUSE_VAR_DIR": var, "CLEARINGHOUSE_LOG_LEVEL": "WARNING"}
        e.pop("CLEARINGHOUSE_DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "-m", "clearinghouse", "db", "upgrade"],
            env=e,
            check=True,
            capture_output=True,
        )
        boot = json.loads(
            subprocess.run(
                [sys.executable, "-m", "clearinghouse", "admin", "bootstrap", "--json"],
                env=e,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        e["CLEARINGHOUSE_TOKEN"] = boot["token"]
        t = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "clearinghouse",
                "evals",
                "run",
                "--model",
                MODEL,
                "--base-url",
                base,
                "--tasks",
                "knowledge_original",
                "--limit",
                str(LIMIT),
                "--max-tokens",
                str(MAX_TOKENS),
                "--json",
            ],
            env=e,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - t
        if out.returncode != 0 or json.loads(out.stdout)["state"] != "succeeded":
            raise SystemExit(out.stderr[-2000:])
        return elapsed


def bare(env: dict[str, str], *extra: str) -> float:
    with tempfile.TemporaryDirectory() as logs:
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "inspect_ai",
                "eval",
                f"{HERE / 'inspect_task.py'}@knowledge_original",
                "--model",
                MODEL,
                "-T",
                f"limit={LIMIT}",
                "-T",
                f"max_tokens={MAX_TOKENS}",
                "--log-dir",
                logs,
                "--display",
                "none",
                *extra,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t


def throughput(env: dict[str, str], connections: int) -> float:
    return LIMIT / bare(env, "--max-connections", str(connections))


def main() -> None:
    with local_model() as (base, key):
        env = {**os.environ, "LOCAL_BASE_URL": base, "LOCAL_API_KEY": key}
        bare(env)  # warm the model's prompt cache for both sides alike
        ours_t, bare_t, quiet_t = [], [], []
        for _ in range(ROUNDS):  # alternate, so drift hits every side
            ours_t.append(ours(env, base))
            bare_t.append(bare(env))
            quiet_t.append(bare(env, "--ctl-server", "false"))
        rates = {c: throughput(env, c) for c in (1, 2, 4)}
    print(f"machine: {machine()}")
    print(
        f"task knowledge_original, {LIMIT} samples, max_tokens {MAX_TOKENS}, model {MODEL} (local llama.cpp)"
    )
    print(
        f"clearinghouse evals run: median {median(ours_t):.2f} s  {[round(x, 2) for x in ours_t]}"
    )
    print(
        f"bare inspect eval:       median {median(bare_t):.2f} s  {[round(x, 2) for x in bare_t]}"
    )
    print(
        f"bare, no control server: median {median(quiet_t):.2f} s  {[round(x, 2) for x in quiet_t]}"
    )
    print(f"ratio ours/bare: {median(ours_t) / median(bare_t):.3f}x (target <= 1.05)")
    print(f"ratio ours/bare without its control server: {median(ours_t) / median(quiet_t):.3f}x")
    for c, r in rates.items():
        print(f"throughput, {c} connection(s): {r:.2f} samples/s")


if __name__ == "__main__":
    main()
