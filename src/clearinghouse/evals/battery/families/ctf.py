"""CTF: agentic capture-the-flag in the bwrap sandbox.

`ctf_generated` draws fresh challenges from the procedural templates (seeded per run);
`ctf_intercode` offers the InterCode-CTF (picoCTF) tasks that can be solved from the data copy
with no network, each once, and lists the others as skipped, with the reason. Write-ups shipped
with InterCode (`solution/`) are read on the host to find the files a task needs; they never
reach the sandbox.

Both are scored by `agent.flag_scorer`: an exact match on at most `TaskOptions.max_submissions`
submissions, each recorded.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from inspect_ai import Task
from inspect_ai.dataset import Sample
from inspect_ai.util import SandboxEnvironmentSpec

from clearinghouse.evals.battery.agent import ctf_agent, flag_scorer
from clearinghouse.evals.battery.families.ctf_generators import (
    TEMPLATES,
    generate,
    materialize_service,
)
from clearinghouse.evals.battery.framework import Skipped, TaskOptions, TaskSpec, sample_files
from clearinghouse.sandbox.bwrap import Network
from clearinghouse.sandbox.inspect_plugin import BwrapConfig

# 2.0: exact flag match on at most max_submissions; InterCode filtered. 2.1: generated challenges
# interleaved by category, so that a sample limit draws from every category.
VERSION = "2.1"
_SERVICE_ROOT: Path | None = None


def _service_root() -> Path:
    global _SERVICE_ROOT
    if _SERVICE_ROOT is None:
        _SERVICE_ROOT = Path(tempfile.mkdtemp(prefix="clearinghouse-ctf-services-"))
        atexit.register(shutil.rmtree, _SERVICE_ROOT, True)
    return _SERVICE_ROOT


def generated_samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
    """One challenge per template, interleaved by category (crypto, forensics, pwn, reverse, web,
    crypto, ...): a run with a sample limit gets every category it can, never the first N
    templates of one category. Each template's seed depends on its name's rank, not on the
    order."""
    samples: list[tuple[int, str, Sample]] = []
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
        rank = sum(1 for _, category, _ in samples if category == c.category)
        samples.append(
            (
                rank,
                c.category,
                Sample(
                    id=c.id,
                    input=c.prompt,
                    target=c.flag,
                    files=sample_files(c.files),
                    metadata=metadata,
                    sandbox=sandbox,
                ),
            )
        )
    return [sample for _, _, sample in sorted(samples, key=lambda item: item[:2])], []


# What the loader reads to decide whether an InterCode task can be solved from this data copy:
# file names in the task's query and in the backquoted commands of its write-up (the write-up
# stays on the host: it never reaches the sandbox).
_FILE_NAME = re.compile(r"(?<![\w/.-])([A-Za-z0-9_-][A-Za-z0-9_.-]*\.[A-Za-z0-9]{1,5})(?![\w/-])")
_BACKQUOTED = re.compile(r"`([^`\n]+)`")
# Extensions of challenge files: a dotted word with another ending ("sys.exit", "i.e",
# "example.com") is not a file name.
_FILE_EXTENSIONS = frozenset(
    "asm bin c cpp csr csv db dd dump elf eml enc exe gif gz html img java jpeg jpg js json key "
    "log md pcap pcapng pdf pem php png pptm ps1 pub py s sh sql tar txt wav xml zip".split()
)
# The write-ups' own solution scripts are not challenge files.
_SOLUTION_SCRIPT = re.compile(r"^(?:solve|solution|exploit)\w*\.\w+$|_solve\.\w+$", re.I)
# A task that needs the original picoCTF servers (or any other host) cannot run in a sandbox
# with no network.
_NEEDS_NETWORK = re.compile(
    r"\bnc\s+\S+\s+\d+|https?://|\bpicoctf\.(?:net|org)\b|\b(?:wget|curl|whois)\b|\bdownload",
    re.I,
)
_NEEDS_NETWORK_WRITEUP = re.compile(r"\bnc\s+\S+\s+\d+|\b(?:wget|curl|whois)\b|\bdownload", re.I)
# Tasks with no challenge file whose query carries all their data (read against each write-up
# by hand): 90 (a ROT13 ciphertext; task 5 is the same challenge, but its write-up names a
# script that is not here), 17, 18, 19 (conversions), 22 (base64), 40 (hex). Every other task
# without a file here needed a binary input that the data copy left out.
SELF_CONTAINED = frozenset({17, 18, 19, 22, 40, 90})


def _files_named(text: str) -> set[str]:
    return {
        m
        for m in _FILE_NAME.findall(text)
        if m.rsplit(".", 1)[1].lower() in _FILE_EXTENSIONS and not _SOLUTION_SCRIPT.search(m)
    }


def _unsolvable(task: dict[str, Any], present: set[str], writeup: str) -> str | None:
    """Why this InterCode task cannot be solved from this data copy in the sandbox, or None."""
    query = str(task["query"])
    if _NEEDS_NETWORK.search(query) or _NEEDS_NETWORK_WRITEUP.search(writeup):
        return "needs the network (the original picoCTF service or a download)"
    named = _files_named(query) | {
        name for span in _BACKQUOTED.findall(writeup) for name in _files_named(span)
    }
    missing = sorted(named - present)
    if missing:
        return f"file(s) not in this data copy: {', '.join(missing)}"
    if not present and int(task["task_id"]) not in SELF_CONTAINED:
        return "its challenge files are not in this data copy (binary inputs were left out)"
    return None


def intercode_samples(options: TaskOptions) -> tuple[list[Sample], list[Skipped]]:
    """InterCode-CTF's tasks that can be solved from the data copy with no network, each once.

    A task is skipped, with the reason, when it needs the network, when a file its query or its
    write-up names is absent, when it has no challenge file and its query does not carry its
    data, or when an earlier task has the same flag or the same query and files (a duplicate)."""
    root = options.shared_data / "intercode-ctf"
    index = root / "ic_ctf.json"
    if not index.exists():
        return [], [Skipped("intercode-ctf", f"data not found at {index}")]
    samples, skipped = [], []
    seen: dict[str, str] = {}
    for task in json.loads(index.read_text()):
        tid = f"intercode-{task['task_id']}"
        assets = root / "task_assets" / str(task["task_id"])
        present = {p.name: p for p in assets.iterdir() if p.is_file()} if assets.is_dir() else {}
        writeup_path = assets / "solution" / "README.md"
        writeup = writeup_path.read_text(errors="replace") if writeup_path.is_file() else ""
        reason = _unsolvable(task, set(present), writeup)
        if reason is not None:
            skipped.append(Skipped(tid, reason))
            continue
        files = {n: p.read_bytes() for n, p in sorted(present.items())}
        content = json.dumps(
            [task["query"], {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}]
        )
        duplicate = seen.get(f"flag:{task['gold']}") or seen.get(f"content:{content}")
        if duplicate is not None:
            skipped.append(Skipped(tid, f"duplicate of {duplicate} (same flag or same task)"))
            continue
        seen[f"flag:{task['gold']}"] = seen[f"content:{content}"] = tid
        samples.append(
            Sample(
                id=tid,
                input=task["query"]
                + (
                    f"\nThe challenge files are in /workspace: {', '.join(files)}." if files else ""
                ),
                target=task["gold"],
                files=sample_files(files),
                metadata={
                    "tags": ", ".join(task.get("tags", [])),
                    "source": task.get("source", ""),
                },
            )
        )
    return samples, skipped


def ctf_task(options: TaskOptions, samples: list[Sample]) -> Task:
    return Task(
        dataset=samples,
        solver=ctf_agent(
            options.message_limit,
            tool_timeout=options.tool_timeout,
            max_submissions=options.max_submissions,
        ),
        scorer=flag_scorer(options.max_submissions),
        sandbox=SandboxEnvironmentSpec("bwrap", BwrapConfig(network=Network.none)),
        message_limit=options.message_limit,
        token_limit=options.token_limit,
        time_limit=options.time_limit,
        metadata={"max_submissions": options.max_submissions},
    )


TASKS = (
    TaskSpec(
        "ctf_generated",
        "ctf",
        VERSION,
        f"{len(TEMPLATES)} procedural challenges (crypto, forensics, reverse, web, pwn), fresh per seed",
        generated_samples,
        ctf_task,
        needs=("bwrap",),
        blind=lambda samples: 0.0,  # a fresh 20-character flag: no guess finds it
    ),
    TaskSpec(
        "ctf_intercode",
        "ctf",
        VERSION,
        "InterCode-CTF (picoCTF) tasks solvable offline from the data copy, without duplicates",
        intercode_samples,
        ctf_task,
        needs=("bwrap", "shared_data"),
        # Blind, 0. The flags are published: a model that recalls them could spray
        # max_submissions of them per sample (docs/evals.md); that is contamination, not skill.
        blind=lambda samples: 0.0,
    ),
)
