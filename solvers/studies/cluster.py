"""Monte Carlo studies on Dask: many drops x sweep points, each a task that carries data, never a model.

A study is a list of `StudyTask`s (solvers/studies/tasks.py) and one spec (the base case and the
settings, plain data). `run_tasks` sends the spec once to every worker
(`client.scatter(..., broadcast=True)`), maps the task function over the tasks, shows progress with an
ETA as they finish, and returns the rows sorted back into task order, so the numbers do not depend on
the number of workers or on who ran what. Each worker builds its own scenarios and solvers; Pyomo models
never cross a process boundary (a pickled model comes back with disconnected variables).

Where it runs: `scheduler=None` starts a LocalCluster of process workers (one per core, one thread
each) and closes it at the end; `scheduler="tcp://host:port"` uses an existing cluster (README:
`dask scheduler`, `dask worker`).
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from data.errors import FedsplitError
from solvers.runtime.progress import Progress
from solvers.runtime.stopping import stops_deferred
from solvers.studies.stopped_cluster import end_cluster_at_once, start_quiet_resource_tracker
from solvers.studies.tasks import StudyTask


@dataclass(frozen=True)
class ClusterSettings:
    scheduler: str | None = None  # tcp://host:port of an existing cluster; None: a LocalCluster
    workers: int | None = None  # LocalCluster workers; None: one per core
    connect_timeout_s: float = 30.0


WORKERS_START_TIMEOUT_S = 300.0  # a local worker imports numpy, Pyomo and Dask: seconds, a minute on a busy machine
WAIT_SLICE_S = 0.2


class ClusterError(FedsplitError):
    """The cluster could not be started or reached; the message says which and what to try."""


WORKERS_PER_CORE = 2  # a worker is one single-threaded process: beyond this they only share the cores
WORKER_MEMORY_BYTES = 250e6  # a worker with the solver stack imported holds about 180 MB


def local_workers_problem(workers: int) -> str | None:
    """Why this machine cannot run `workers` local Dask workers, if it cannot: at most WORKERS_PER_CORE per
    usable core, and WORKER_MEMORY_BYTES each of the memory free now (1000 workers on 2 cores never start)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    free = psutil.virtual_memory().available
    most = max(1, min(WORKERS_PER_CORE * cores, int(free // WORKER_MEMORY_BYTES)))
    if 1 <= workers <= most:
        return None
    return (f"dask.workers={workers}: expected a whole number from 1 to {most} on this machine ({cores} cores, "
            f"at most {WORKERS_PER_CORE} worker processes per core, each needing about "
            f"{WORKER_MEMORY_BYTES / 1e9:.2g} GB of the {free / 1e9:.1f} GB free), or null (one per core)")


def _quiet_dask() -> None:
    # Dask logs every worker start and stop at INFO; the run's own progress says what matters.
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker",
                 "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _reachable(address: str, seconds: float = 5.0) -> None:
    """A TCP connection to the scheduler's port, so that a refused one fails at once (Dask's client would
    retry for its whole timeout); other protocols are left to Dask."""
    match = re.fullmatch(r"tcp://\[?([^\]/]+?)\]?:([0-9]+)/?", address)
    if match:
        with socket.create_connection((match.group(1), int(match.group(2))), timeout=seconds):
            pass


def unguarded_main() -> str | None:
    """What is wrong, in one line, when a local cluster is started from a script's top level outside
    `if __name__ == "__main__":` (Dask's process workers import the main script again, which would start
    the study again in every worker: Dask then fails with a long 'Nanny failed to start' traceback)."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__spec__", None) is None and getattr(main, "__file__", None)
    if not script or not str(script).endswith(".py"):
        return None  # python -m ..., a notebook or an interactive session: nothing is imported again
    frame = inspect.currentframe()
    while frame is not None and not (frame.f_globals.get("__name__") == "__main__"
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return None
    try:
        tree = ast.parse(Path(script).read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    guarded = any(isinstance(node, ast.If) and _is_main_test(node.test)
                  and node.lineno <= frame.f_lineno <= node.end_lineno for node in tree.body)
    if guarded:
        return None
    return (f"{script}, line {frame.f_lineno}: a study on a local cluster must be started under "
            f"`if __name__ == \"__main__\":` (its worker processes import the script again; README, 'Notebook API')")


def _is_main_test(test: ast.expr) -> bool:
    """`__name__ == "__main__"`, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
            and any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides))


def _connect(settings: ClusterSettings):
    import dask  # noqa: PLC0415
    from distributed import Client, LocalCluster  # noqa: PLC0415

    _quiet_dask()
    if settings.scheduler:
        try:
            _reachable(settings.scheduler)
            return Client(settings.scheduler, timeout=settings.connect_timeout_s), None
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"dask.scheduler={settings.scheduler}: no Dask scheduler answered within "
                               f"{settings.connect_timeout_s:g} s ({error}); start one with `dask scheduler` "
                               f"and at least one `dask worker`, or leave dask.scheduler unset for a local "
                               f"cluster") from None
    unguarded = unguarded_main()
    if unguarded:
        raise ClusterError(unguarded)
    # The workers' scratch space in a folder of the run's own, removed with the cluster (Dask's default
    # leaves an empty dask-scratch-space in the temporary directory).
    scratch = tempfile.mkdtemp(prefix="fedsplit-dask-")
    # The scheduler alone, not cut half-way by a stop (a tenth of a second: Dask cannot close a cluster
    # stopped inside its start); the workers are asked for and awaited, stoppably, in run_tasks.
    start_quiet_resource_tracker()
    cluster = client = None
    try:
        with stops_deferred(), dask.config.set({"temporary-directory": scratch}):
            # dashboard off; the scheduler's HTTP server on a free port (8787 may be taken)
            cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None,
                                   local_directory=scratch, scheduler_kwargs={"dashboard_address": ":0"})
            client = Client(cluster)
    except KeyboardInterrupt:
        end_cluster_at_once(client, cluster)
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    cluster.fedsplit_scratch = scratch
    cluster.fedsplit_workers = settings.workers or os.cpu_count() or 1
    return client, cluster


def _start_workers(client, cluster) -> None:
    """Ask for the local cluster's workers and wait for them (a stop meanwhile ends them at once)."""
    import dask  # noqa: PLC0415

    count = cluster.fedsplit_workers
    deadline = time.monotonic() + WORKERS_START_TIMEOUT_S
    with dask.config.set({"temporary-directory": cluster.fedsplit_scratch}):
        cluster.scale(count)
        while True:
            # In short waits: the main thread, blocked in Dask's wait, hears of a signal that another
            # thread received only when the wait ends.
            try:
                client.wait_for_workers(count, timeout=WAIT_SLICE_S)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise ClusterError(f"the local Dask cluster did not start {count} worker(s) within "
                                       f"{WORKERS_START_TIMEOUT_S:g} s; try fewer dask.workers") from None


def run_tasks(function: Callable, spec, tasks: list[StudyTask], failure: Callable[[StudyTask, str], list[dict]],
              settings: ClusterSettings, progress: Progress | None = None,
              group: Callable[[list[StudyTask], int], list] | None = None) -> tuple[list[dict], dict]:
    """Every task on the cluster; the rows in task order and what ran where ({"workers": n, "addresses": ...}).
    `group(tasks, workers)` makes the items each Dask task runs (chunks of tasks, solved together);
    `function` and `failure` then take such an item. Ctrl-C cancels the tasks, closes the cluster and
    re-raises."""
    from distributed import as_completed  # noqa: PLC0415

    progress = progress or Progress.silent()
    client, cluster = _connect(settings)
    futures, stopped = [], False
    try:
        if cluster is not None:
            _start_workers(client, cluster)
        addresses = sorted(client.scheduler_info()["workers"])
        shared = client.scatter(spec, broadcast=True)
        items = group(tasks, len(addresses)) if group is not None else tasks
        futures = client.map(function, [shared] * len(items), items, pure=False)
        index_of = {future.key: item for future, item in zip(futures, items)}
        by_index: dict[int, list[dict]] = {}
        progress.start(f"study on {len(addresses)} Dask worker{'s' if len(addresses) != 1 else ''}", len(tasks),
                       unit="tasks")
        for future in as_completed(futures):
            item = index_of[future.key]
            if future.status == "error":
                error = future.exception()
                by_index[item.index] = failure(item, f"the task failed on its worker: {type(error).__name__}: "
                                                     f"{error}")
            else:
                by_index[item.index] = future.result()
            progress.advance(item.label(), item.size)
        progress.finish()
        rows = [row for index in sorted(by_index) for row in by_index[index]]
        return rows, {"workers": len(addresses), "addresses": addresses}
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the workers are ended at once, not waited for
        stopped = True
        raise
    except BaseException:
        if futures:
            client.cancel(futures)
        raise
    finally:
        if stopped:
            end_cluster_at_once(client, cluster)
        else:
            client.close()
            if cluster is not None:
                cluster.close()
        if cluster is not None:
            shutil.rmtree(cluster.fedsplit_scratch, ignore_errors=True)
