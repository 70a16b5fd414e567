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

import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

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


class ClusterError(Exception):
    """The cluster could not be started or reached; the message says which and what to try."""


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


def _connect(settings: ClusterSettings):
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
    # The scheduler alone, not cut half-way by a stop (a tenth of a second: Dask cannot close a cluster
    # stopped inside its start); the workers are asked for at once and awaited, stoppably, in run_tasks.
    start_quiet_resource_tracker()
    cluster = client = None
    try:
        with stops_deferred():  # dashboard off; the scheduler's HTTP server on a free port (8787 may be taken)
            cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": ":0"})
            client = Client(cluster)
    except KeyboardInterrupt:
        end_cluster_at_once(client, cluster)
        raise
    cluster.scale(settings.workers or os.cpu_count() or 1)
    return client, cluster


def _await_workers(client, count: int) -> None:
    try:
        client.wait_for_workers(count, timeout=WORKERS_START_TIMEOUT_S)
    except TimeoutError as error:
        raise ClusterError(f"the local Dask cluster did not start {count} worker(s) within "
                           f"{WORKERS_START_TIMEOUT_S:g} s ({error}); try fewer dask.workers") from None


def run_tasks(function: Callable, spec, tasks: list[StudyTask], failure: Callable[[StudyTask, str], list[dict]],
              settings: ClusterSettings, progress: Progress | None = None) -> tuple[list[dict], dict]:
    """Every task on the cluster; the rows in task order and what ran where ({"workers": n, "addresses": ...}).
    Ctrl-C cancels the tasks, closes the cluster and re-raises."""
    from distributed import as_completed  # noqa: PLC0415

    progress = progress or Progress.silent()
    client, cluster = _connect(settings)
    futures, stopped = [], False
    try:
        if cluster is not None:
            _await_workers(client, len(cluster.worker_spec))
        addresses = sorted(client.scheduler_info()["workers"])
        shared = client.scatter(spec, broadcast=True)
        futures = client.map(function, [shared] * len(tasks), tasks, pure=False)
        index_of = {future.key: task for future, task in zip(futures, tasks)}
        by_index: dict[int, list[dict]] = {}
        progress.start(f"study on {len(addresses)} Dask worker{'s' if len(addresses) != 1 else ''}", len(tasks),
                       unit="tasks")
        for future in as_completed(futures):
            task = index_of[future.key]
            if future.status == "error":
                error = future.exception()
                by_index[task.index] = failure(task, f"the task failed on its worker: {type(error).__name__}: "
                                                     f"{error}")
            else:
                by_index[task.index] = future.result()
            progress.advance(f"drop {task.drop}" + (f", {task.sweep_value:g}" if task.sweep_value is not None
                                                    else ""))
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
