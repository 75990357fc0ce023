"""The same task the clearinghouse runs, for bare `inspect eval` (the peer in bench_orchestration)."""

from inspect_ai import Task, task

from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families


@task
def knowledge_original(limit: int = 8, max_tokens: int = 16) -> Task:
    return load_families()["knowledge_original"].task(
        TaskOptions(limit=limit, max_tokens=max_tokens)
    )
