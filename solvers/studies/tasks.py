"""A study's tasks (drop, seed, sweep value) and the rows they give back.

Failures are data: a strategy that fails in a task (a solver's status, a bad draw) gives a row with
status "failed" and its message; a task that crashes on a worker gives such a row for every strategy.
Nothing is dropped silently, and the report's means say how many runs they cover.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from data.drops import drop_seed


@dataclass(frozen=True)
class StudyTask:
    index: int  # position in the study: results are sorted back by it
    drop: int
    seed: int
    sweep_value: float | None


def worker_name() -> str:
    try:
        from distributed import get_worker  # noqa: PLC0415 (only inside a Dask worker)
        return get_worker().address
    except (ImportError, ValueError):
        return f"local pid {os.getpid()}"


def task_row(task: StudyTask, strategy: str, **values) -> dict:
    return {"index": task.index, "drop": task.drop, "seed": task.seed, "sweep_value": task.sweep_value,
            "strategy": strategy, **values}


def study_tasks(drops: int, seed: int, sweep_values: list[float] | None) -> list[StudyTask]:
    """drops x sweep values, drop-major; seed + drop is each drop's seed (the same at every sweep point)."""
    values = list(sweep_values) if sweep_values else [None]
    tasks = []
    for drop in range(drops):
        for value in values:
            tasks.append(StudyTask(len(tasks), drop, drop_seed(seed, drop), value))
    return tasks
