"""The battery's registry: every family's tasks, each name once, and a one-way dependency
(registry -> families -> framework) with no import hidden inside a function to dodge a cycle."""

from __future__ import annotations

import pytest

from clearinghouse.evals.battery.framework import FAMILIES, TaskOptions
from clearinghouse.evals.battery.registry import collect, load_families
from tests.conftest import shared_data_dir
from tests.support.imports import modules_under, within

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
