"""CTF: agentic capture-the-flag in the bwrap sandbox.

`ctf_generated` draws fresh challenges from the procedural templates (seeded per run);
`ctf_intercode` offers the InterCode-CTF (picoCTF) tasks whose assets are present in the data
copy and lists the others as skipped, with the reason. Write-ups shipped with InterCode
(`solution/`) never reach the sandbox.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from pathlib import Path

from inspect_ai import Task
from inspect_ai.dataset import Sample
from inspect_ai.util import SandboxEnvironmentSpec

from clearinghouse.evals.battery.agent import agent, flag_scorer
from clearinghouse.evals.battery.families.ctf_generators import (
    TEMPLATES,
    generate,
    materialize_service,
)
from clearinghouse.evals.battery.framework import Skipped, TaskOptions, TaskSpec, sample_files
from clearinghouse.sandbox.bwrap import Network
from clearinghouse.sandbox.inspect_plugin import BwrapConfig

VERSION = "1.0"
_SERVICE_ROOT: Path | None = None


def _service_root() -> Path:
    global _SERVICE_ROOT
    if _SERVICE_ROOT is None:
        _SERVICE_ROOT = Path(tempfile.mkdtemp(prefix="clearinghouse-ctf-services-"))
        atexit.register(shutil.rmtree, _SERVICE_ROOT, True)
    return _SERVICE_ROOT


def generated_samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
    samples = []
    for i, template in enumerate(sorted(TEMPLATES)):
        seed = options.seed * 1000 + i
        c = generate(template, seed)
        metadata: dict[str, object] = {"template": template, "category": c.category, "seed": seed}
        sandbox = SandboxEnvironmentSpec("bwrap", BwrapConfig(network=c.network))
        if c.service is not None:
            where = materialize_service(c.service, _service_root() / c.id)
            metadata["service"] = json.dumps(
                {"cmd": c.service.cmd, "dir": str(where), "port": c.service.port}
            )
        samples.append(
            Sample(
                id=c.id,
                input=c.prompt,
                target=c.flag,
                files=sample_files(c.files),
                metadata=metadata,
                sandbox=sandbox,
            )
        )
    return samples, []


_FILE_MENTION = re.compile(r"[`'\"]?([A-Za-z0-9_.-]+\.[A-Za-z0-9]{1,5})[`'\"]?")


def intercode_samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
    root = options.shared_data / "intercode-ctf"
    index = root / "ic_ctf.json"
    if not index.exists():
        return [], [Skipped("intercode-ctf", f"data not found at {index}")]
    samples, skipped = [], []
    for task in json.loads(index.read_text()):
        tid = f"intercode-{task['task_id']}"
        assets = root / "task_assets" / str(task["task_id"])
        present = {p.name: p for p in assets.iterdir() if p.is_file()} if assets.is_dir() else {}
        mentioned = {
            m for m in _FILE_MENTION.findall(task["query"]) if not m.startswith(("picoCTF", "www."))
        }
        missing = sorted(
            m for m in mentioned if m not in present and not m.endswith((".com", ".org", ".net"))
        )
        if missing:
            skipped.append(Skipped(tid, f"asset(s) not in this data copy: {', '.join(missing)}"))
            continue
        if "nc " in task["query"] or "http" in task["query"]:
            skipped.append(Skipped(tid, "needs the original picoCTF network service"))
            continue
        samples.append(
            Sample(
                id=tid,
                input=task["query"] + "\nThe challenge files are in /workspace.",
                target=task["gold"],
                files=sample_files({n: p.read_bytes() for n, p in present.items()}),
                metadata={
                    "tags": ", ".join(task.get("tags", [])),
                    "source": task.get("source", ""),
                },
            )
        )
    return samples, skipped


def _ctf_task(options: TaskOptions, samples: list[Sample]) -> Task:
    return Task(
        dataset=samples,
        solver=agent(options.message_limit),
        scorer=flag_scorer(),
        sandbox=SandboxEnvironmentSpec("bwrap", BwrapConfig(network=Network.none)),
        message_limit=options.message_limit,
        token_limit=options.token_limit,
        time_limit=options.time_limit,
    )


TASKS = (
    TaskSpec(
        "ctf_generated",
        "ctf",
        VERSION,
        f"{len(TEMPLATES)} procedural challenges (crypto, forensics, reverse, web, pwn), fresh per seed",
        generated_samples,
        _ctf_task,
        needs=("bwrap",),
    ),
    TaskSpec(
        "ctf_intercode",
        "ctf",
        VERSION,
        "InterCode-CTF (picoCTF) tasks whose assets are present",
        intercode_samples,
        _ctf_task,
        needs=("bwrap", "shared_data"),
    ),
)
