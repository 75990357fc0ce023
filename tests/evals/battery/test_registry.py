"""The battery's registry: every family's tasks, each name once, and a one-way dependency
(registry -> families -> framework) with no import hidden inside a function to dodge a cycle.
Freshness: a random seed per run, recorded, and one seed gives one dataset digest, so a run can
be replayed from its recorded config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clearinghouse.evals.battery.framework import FAMILIES, SEED_BOUND, TaskOptions
from clearinghouse.evals.battery.registry import collect, load_families
from tests.conftest import shared_data_dir
from tests.support.imports import modules_under, within
from tests.support.needs import needs_bwrap, needs_gcc

BATTERY = "clearinghouse.evals.battery"


def test_every_family_has_tasks_and_every_task_builds() -> None:
    tasks = load_families()
    assert {spec.family for spec in tasks.values()} == set(FAMILIES)
    assert all(name == spec.name for name, spec in tasks.items())
    task = tasks["knowledge_original"].task(TaskOptions(limit=2))
    assert len(task.dataset) == 2
    assert task.metadata is not None and task.metadata["family"] == "knowledge"


def test_a_task_name_declared_twice_is_refused() -> None:
    knowledge = tuple(s for s in load_families().values() if s.family == "knowledge")
    with pytest.raises(ValueError, match="registered twice"):
        collect(knowledge, knowledge[:1])


def test_the_dependency_runs_one_way() -> None:
    modules = modules_under(BATTERY)
    registry = f"{BATTERY}.registry"
    families = f"{BATTERY}.families"
    framework = f"{BATTERY}.framework"
    importers_of_registry = [m for m, names in modules.items() if registry in names]
    assert importers_of_registry == []
    assert [n for n in modules[framework] if within(n, families) or n == registry] == []
    for module, names in modules.items():
        if within(module, families):
            assert registry not in names, module


@pytest.mark.shared_data
def test_public_loaders_read_the_shared_data() -> None:
    options = TaskOptions(shared_data=shared_data_dir())
    registry = load_families()
    cybermetric, _ = registry["knowledge_cybermetric"].samples(options)
    assert len(cybermetric) == 500 and all(len(s.choices or []) == 4 for s in cybermetric)
    threat, _ = registry["knowledge_cse_threat_intel"].samples(options)
    assert len(threat) > 500 and all(isinstance(s.target, list) for s in threat)
    mitre, no_prompt = registry["knowledge_cse_mitre"].samples(options)
    assert len(mitre) + len(no_prompt) == 1000 and len(no_prompt) == 23  # 23 lack a prompt
    assert len({s.metadata["category"] for s in mitre}) == 10
    assert registry["knowledge_cse_mitre"].metric == "compliance"
    intercode, skipped = registry["ctf_intercode"].samples(options)
    assert len(intercode) + len(skipped) == 100 and skipped and all(s.reason for s in skipped)
    for sample in intercode:  # write-ups never reach the sandbox
        assert not any("solution" in name for name in (sample.files or {}))


# --- freshness and replay: a random seed per run, recorded; one seed, one dataset digest -------

SEEDED = ("knowledge_original", "ctf_generated")  # the tasks whose samples depend on the seed
DIGEST_SCRIPT = """
import json, sys
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
seed = int(sys.argv[1])
print(json.dumps({name: spec.task(TaskOptions(seed=seed)).metadata["dataset_sha256"]
                  for name, spec in load_families().items() if "shared_data" not in spec.needs}))
"""


def test_each_run_draws_a_fresh_seed_and_records_it() -> None:
    """The default was 0: every default run used the same flags and the same answer order."""
    drawn = {TaskOptions().seed for _ in range(20)} | {TaskOptions(seed=None).seed}  # type: ignore[arg-type]
    assert len(drawn) == 21 and all(0 <= s < SEED_BOUND for s in drawn)
    options = TaskOptions()
    task = load_families()["knowledge_original"].task(options)
    assert task.metadata is not None and task.metadata["seed"] == options.seed


@pytest.mark.parametrize("seed", [-1, SEED_BOUND, True, "7", 1.5])
def test_a_seed_that_cannot_be_replayed_is_refused(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        TaskOptions(seed=seed)  # type: ignore[arg-type]


def _digests(seed: int) -> dict[str, str]:
    """Build every task that needs no shared data in a fresh interpreter: what a replay does."""
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PYTHONPATH": f"{root / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    out = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT, str(seed)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    digests: dict[str, str] = json.loads(out.stdout)
    return digests


@pytest.fixture(scope="module")
def builds() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    first = _digests(4242)
    time.sleep(2.1)  # past the 2-second resolution of a zip timestamp
    return first, _digests(4242), _digests(4243)


@needs_bwrap
@needs_gcc
@pytest.mark.parametrize(
    "name",
    [
        "ctf_generated",
        "knowledge_original",
        "poc_asan",
        "patch_asan",
    ],
)
def test_one_seed_gives_one_dataset_digest(
    name: str, builds: tuple[dict[str, str], dict[str, str], dict[str, str]]
) -> None:
    first, again, other = builds
    assert first[name] == again[name]
    if name in SEEDED:
        assert first[name] != other[name]
