"""The battery's registry: every task of every family, by name.

The dependency runs one way: this module imports the families, each family imports
`framework`, and `framework` imports no family.
"""

from __future__ import annotations

from collections.abc import Iterable

from clearinghouse.evals.battery.families import ctf, knowledge, poc, realworld
from clearinghouse.evals.battery.framework import TaskSpec


def collect(*families: Iterable[TaskSpec]) -> dict[str, TaskSpec]:
    """The families' tasks by name, in order; a name declared twice is a programming error."""
    tasks: dict[str, TaskSpec] = {}
    for family in families:
        for spec in family:
            if spec.name in tasks:
                raise ValueError(f"task {spec.name!r} registered twice")
            tasks[spec.name] = spec
    return tasks


TASKS = collect(ctf.TASKS, knowledge.TASKS, poc.TASKS, realworld.TASKS)


def load_families() -> dict[str, TaskSpec]:
    """Every task of the battery, by name."""
    return TASKS
