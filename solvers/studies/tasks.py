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
    size = 1  # the tasks it stands for (progress counts them)

    def label(self) -> str:
        """What the progress line says the task was."""
        return f"drop {self.drop}" + (f", {self.sweep_value:g}" if self.sweep_value is not None else "")


@dataclass(frozen=True)
class StudyChunk:
    """Consecutive tasks that one Dask task solves together (the batched engine)."""

    tasks: tuple[StudyTask, ...]

    @property
    def index(self) -> int:
        return self.tasks[0].index

    @property
    def size(self) -> int:
        return len(self.tasks)

    def label(self) -> str:
        return f"drops {self.tasks[0].drop} to {self.tasks[-1].drop}"


CHUNKS_PER_WORKER = 4  # so that the workers finish together and progress moves
CHUNK_TASKS_MAX = 500  # tasks per chunk: enough to amortise the per-round overhead, small for progress


def study_chunks(tasks: list[StudyTask], workers: int) -> list[StudyChunk]:
    """`tasks` in consecutive chunks of nearly equal size: CHUNKS_PER_WORKER per worker, more when a
    chunk would hold more than CHUNK_TASKS_MAX tasks."""
    if not tasks:
        return []
    count = min(len(tasks), max(CHUNKS_PER_WORKER * max(workers, 1), -(-len(tasks) // CHUNK_TASKS_MAX)))
    bounds = [round(i * len(tasks) / count) for i in range(count + 1)]
    return [StudyChunk(tuple(tasks[low:high])) for low, high in zip(bounds, bounds[1:])]


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
