"""The battery's registry: every family's tasks, each name once, and a one-way dependency
(registry -> families -> framework) with no import hidden inside a function to dodge a cycle."""

from __future__ import annotations

import pytest

from clearinghouse.evals.battery.framework import FAMILIES, TaskOptions
from clearinghouse.evals.battery.registry import collect, load_families
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
