"""Ending a Dask cluster at once when the run is stopped (Ctrl-C, SIGTERM).

A graceful close waits for the workers (seconds, more while they are still starting) and, if a
worker is still starting, fails on Dask's `assert w.status in {closing, closed, failed}`
(`AssertionError: Status.init`), which its exit hook then prints as a traceback. A stopped run
discards the workers' results anyway, so their processes are killed first; closing is then quick,
and it is tried once, briefly, without a word on the console.

A killed worker cannot release the semaphore that Pyomo's import creates (a multiprocessing Lock):
multiprocessing's resource tracker unlinks it when the run ends, and would say so on stderr
("There appear to be 2 leaked semaphore objects"); `start_quiet_resource_tracker` starts the tracker
before the cluster's first worker with that message turned off (its clean-up still happens).
"""

from __future__ import annotations

import logging
import os

import psutil

from solvers.runtime.processes import kill_at_once

CLOSE_TIMEOUT_S = 0.3
TRACKER_WARNINGS_OFF = "ignore:resource_tracker:UserWarning"
log = logging.getLogger(__name__)


def end_cluster_at_once(client, cluster) -> None:
    """Kill `cluster`'s worker processes, close `client` and `cluster` (None: an external cluster, left
    running) briefly, then kill any worker that was still being spawned."""
    from distributed.deploy.spec import SpecCluster  # noqa: PLC0415

    if cluster is not None:
        kill_at_once(_worker_processes(cluster))
    for close in (getattr(client, "close", None), getattr(cluster, "close", None)):
        if close is None:
            continue
        try:
            close(timeout=CLOSE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 (a stopped run's clean-up: whatever Dask says, go on)
            log.debug("closing Dask after the stop: %s: %s", type(error).__name__, error)
    if cluster is not None:
        SpecCluster._instances.discard(cluster)  # closed above: Dask's exit hook must not close it again
        kill_at_once(_worker_processes(cluster))


def _worker_processes(cluster) -> list[psutil.Process]:
    processes = []
    for nanny in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(nanny, "pid", None)
        if pid is None:
            continue  # not spawned yet (psutil.Process(None) would be this very process)
        try:
            processes.append(psutil.Process(pid))
        except psutil.Error:
            continue  # already gone
    return processes


def start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (if it does not run yet) with its leak warnings off."""
    from multiprocessing import resource_tracker  # noqa: PLC0415

    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved, TRACKER_WARNINGS_OFF]))
    try:
        resource_tracker.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = saved
