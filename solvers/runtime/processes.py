"""The processes a run started, and ending them at once when the run is stopped."""

from __future__ import annotations

import logging
import os
import time

import psutil

log = logging.getLogger(__name__)

# multiprocessing's resource tracker is shared by everything this process spawns and ends with it on its
# own, unlinking what the others left; killing it would leave those in /dev/shm.
_OUTLIVES_ITS_USERS = "multiprocessing.resource_tracker"


def descendants() -> list[psutil.Process]:
    """Every live process under this one, but the resource tracker."""
    try:
        found = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    return [process for process in found if not _is_resource_tracker(process)]


def _is_resource_tracker(process: psutil.Process) -> bool:
    try:
        return any(_OUTLIVES_ITS_USERS in part for part in process.cmdline())
    except psutil.Error:
        return False


def kill_at_once(processes: list[psutil.Process], wait_s: float = 0.5) -> None:
    """SIGKILL to each but this process (they hold nothing to save: a stopped run discards their work), then
    wait up to `wait_s` for them to be gone; a child stays to be reaped by whoever started it (Dask's nanny)."""
    processes = [process for process in processes if process.pid != os.getpid()]
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            continue  # already gone
    deadline = time.monotonic() + wait_s
    alive = processes
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [process for process in alive if _running(process)]
    for process in alive:
        log.warning("process %d did not end within %.1f s of SIGKILL", process.pid, wait_s)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
