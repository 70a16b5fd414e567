"""Monte Carlo studies on Dask: many drops x sweep points, each a task that carries data, never a model.

A study is a list of `StudyTask`s (drop, seed, sweep value) and one `FedsllmStudySpec` or `CardStudySpec`
(the base case and the settings, plain data). `run_tasks` sends the spec once to every worker
(`client.scatter(..., broadcast=True)`), maps the task function over the tasks, shows progress with an
ETA as they finish, and returns the rows sorted back into task order, so the numbers do not depend on
the number of workers or on who ran what. Each worker builds its own scenarios and solvers; Pyomo models
never cross a process boundary (a pickled model comes back with disconnected variables).

Failures are data: a strategy that fails in a task (a solver's status, a bad draw) gives a row with
status "failed" and its message; a task that crashes on a worker gives such a row for every strategy.
Nothing is dropped silently, and the report's means say how many runs they cover.

Where it runs: `scheduler=None` starts a LocalCluster of process workers (one per core, one thread
each) and closes it at the end; `scheduler="tcp://host:port"` uses an existing cluster (README:
`dask scheduler`, `dask worker`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from data.card import CardInputs
from data.drops import card_drop, drop_seed, fedsllm_drop
from solvers.progress import Progress

STRATEGIES = ("Proposed", "EB", "FE", "BA")
CARD_METHODS = ("CARD", "server-only", "device-only")
DEFAULT_STUDY_TOLERANCE = 1e-4  # relative gap of each drop's certified optimum over eta (eta_search=certified)
STUDY_GRID_STEP = 0.1  # eta_search=search: the coarse grid before Brent (18 structured solves per drop at K=50)
STUDY_REFINE_TOLERANCE = 1e-5  # on eta


@dataclass(frozen=True)
class StudyTask:
    index: int  # position in the study: results are sorted back by it
    drop: int
    seed: int
    sweep_value: float | None


@dataclass(frozen=True)
class FedsllmStudySpec:
    """What every FedsLLM task needs: the base case's parameters, K, the sweep's name and the settings."""

    parameters: dict
    users: int
    sweep_name: str | None
    baseline_eta: float
    tolerance: float
    gap: float
    solve_limit: int
    eta_search: str = "search"  # "search": grid + Brent, each point's duality gap; "certified": branch and bound


@dataclass(frozen=True)
class CardStudySpec:
    base: CardInputs
    sweep_name: str | None


def _worker_name() -> str:
    try:
        from distributed import get_worker  # noqa: PLC0415 (only inside a Dask worker)
        return get_worker().address
    except (ImportError, ValueError):
        return f"local pid {os.getpid()}"


def _row(task: StudyTask, strategy: str, **values) -> dict:
    return {"index": task.index, "drop": task.drop, "seed": task.seed, "sweep_value": task.sweep_value,
            "strategy": strategy, **values}


# --- FedsLLM: the four strategies of Fig. 2 on one drop -----------------------------------------

def _failed(task: StudyTask, strategy: str, message: str, seconds: float, worker: str) -> dict:
    return _row(task, strategy, T_s=math.nan, eta=math.nan, lower_bound_s=math.nan, gap=math.nan,
                status="failed", message=message, seconds=seconds, worker=worker)


def run_fedsllm_task(spec: FedsllmStudySpec, task: StudyTask) -> list[dict]:
    """Proposed (Problem (17) over eta: the eta search, or with eta_search=certified the optimum certified over
    (0, 1) by branch and bound), EB (equal bandwidth, eta searched on the grid and refined), FE (Problem
    (17) at the fixed eta, structured engine, its duality gap) and BA (equal bandwidth at the fixed eta,
    closed form) on one drop."""
    from solvers.fedsllm import eta_grid_for  # noqa: PLC0415 (workers import what they run)
    from solvers.fedsllm_baselines import EqualBandwidth  # noqa: PLC0415
    from solvers.structured import SplitScenario  # noqa: PLC0415

    worker = _worker_name()
    started = time.perf_counter()
    try:
        inputs = fedsllm_drop(spec.parameters, spec.users, task.seed, spec.sweep_name, task.sweep_value)
        scenario = SplitScenario.from_inputs(inputs)
    except (ValueError, ArithmeticError) as error:
        message = f"the drop could not be drawn: {error}"
        return [_failed(task, s, message, time.perf_counter() - started, worker) for s in STRATEGIES]
    rows = []
    fixed = spec.baseline_eta
    # BA and EB: equal split, numpy only
    clock = time.perf_counter()
    ba_delay = scenario.equal_split_delay_s(fixed)
    rows.append(_row(task, "BA", T_s=ba_delay, eta=fixed, lower_bound_s=ba_delay, gap=0.0, status="ok", message="",
                     seconds=time.perf_counter() - clock, worker=worker))
    clock = time.perf_counter()
    eb = EqualBandwidth(scenario).best(eta_grid_for(inputs), fixed, 1e-6)
    rows.append(_row(task, "EB", T_s=eb.T, eta=eb.eta, lower_bound_s=math.nan, gap=math.nan, status="ok",
                     message="", seconds=time.perf_counter() - clock, worker=worker))
    if spec.eta_search == "certified":
        rows += _fe_and_global_proposed(spec, task, scenario, eb.eta, worker)
    else:
        rows += _fe_and_searched_proposed(spec, task, scenario, eb.eta, worker)
    order = {s: i for i, s in enumerate(STRATEGIES)}
    return sorted(rows, key=lambda row: order[row["strategy"]])


def _fe_row(spec: FedsllmStudySpec, task: StudyTask, point, seconds: float, worker: str) -> dict:
    """FE: Problem (17) at the fixed eta by the structured engine, with its duality gap."""
    fixed = spec.baseline_eta
    return _row(task, "FE", T_s=point.T if point.converged else math.nan, eta=fixed, lower_bound_s=point.lower_bound,
                gap=point.gap, status="ok" if point.converged else "failed",
                message="" if point.converged else f"structured solve at eta={fixed:g}: {point.status}",
                seconds=seconds, worker=worker)


def _fe_and_searched_proposed(spec: FedsllmStudySpec, task: StudyTask, scenario, eb_eta: float,
                              worker: str) -> list[dict]:
    """Proposed as the paper's eta search: a coarse grid (with the fixed and EB's eta), then Brent between
    the best point's neighbours; every point by the structured engine, warm-started from the last, so its
    duality gap proves T*(eta) there. FE is the grid's solve at the fixed eta."""
    from solvers.fedsllm import EtaGrid, refine_between_neighbours  # noqa: PLC0415
    from solvers.structured import solve_structured  # noqa: PLC0415

    started = time.perf_counter()
    points, last = {}, [None]

    def delay(eta: float) -> float:
        eta = float(eta)
        if eta not in points:
            point = solve_structured(scenario, eta, last[0], spec.gap)
            if not point.converged:
                point = solve_structured(scenario, eta, None, spec.gap)
            points[eta] = last[0] = point
        point = points[eta]
        return point.T if point.converged else math.inf

    grid = EtaGrid(STUDY_GRID_STEP, STUDY_GRID_STEP, 1.0 - STUDY_GRID_STEP)
    delay(spec.baseline_eta)  # FE's point first
    fe_seconds = time.perf_counter() - started
    for eta in sorted({*grid.points(), eb_eta}):
        delay(eta)
        if len(points) > spec.solve_limit:
            break
    best = min(points, key=lambda e: delay(e))
    if math.isfinite(delay(best)):
        refine_between_neighbours(delay, grid, best, STUDY_REFINE_TOLERANCE)
    best = min(points, key=lambda e: delay(e))
    point = points[best]
    proposed = _row(task, "Proposed", T_s=point.T, eta=best, lower_bound_s=point.lower_bound, gap=point.gap,
                    status="ok", message="", seconds=time.perf_counter() - started, worker=worker)
    if not point.converged or len(points) > spec.solve_limit:
        reason = (f"{len(points)} structured solves, more than monte_carlo.solve_limit={spec.solve_limit}"
                  if len(points) > spec.solve_limit else f"structured solve at eta={best:g}: {point.status}")
        proposed = _failed(task, "Proposed", reason, time.perf_counter() - started, worker)
    return [_fe_row(spec, task, points[spec.baseline_eta], fe_seconds, worker), proposed]


def _fe_and_global_proposed(spec: FedsllmStudySpec, task: StudyTask, scenario, eb_eta: float,
                            worker: str) -> list[dict]:
    """Proposed as the certified optimum over (0, 1) (branch and bound to `tolerance`), started at EB's and
    the fixed eta so that Proposed <= both; FE one structured solve."""
    from solvers.global_eta import GlobalSearchError, certify_global_eta  # noqa: PLC0415
    from solvers.structured import solve_structured  # noqa: PLC0415

    fixed = spec.baseline_eta
    clock = time.perf_counter()
    rows = [_fe_row(spec, task, solve_structured(scenario, fixed, gap=spec.gap), time.perf_counter() - clock, worker)]
    clock = time.perf_counter()
    try:
        best = certify_global_eta(scenario, [fixed, eb_eta, 0.5], tol=spec.tolerance, gap=spec.gap,
                                  solve_limit=spec.solve_limit)
        if best.certified:
            rows.append(_row(task, "Proposed", T_s=best.T, eta=best.eta, lower_bound_s=best.lower_bound,
                             gap=best.gap, status="ok", message="", seconds=time.perf_counter() - clock,
                             worker=worker))
        else:
            rows.append(_failed(task, "Proposed", f"global search over eta: {best.status} after {best.solves} "
                                                  "solves (raise monte_carlo.solve_limit)",
                                time.perf_counter() - clock, worker))
    except GlobalSearchError as error:
        rows.append(_failed(task, "Proposed", f"global search over eta: {error}", time.perf_counter() - clock,
                            worker))
    return rows


def fedsllm_task_failure(task: StudyTask, message: str) -> list[dict]:
    return [_failed(task, s, message, math.nan, "") for s in STRATEGIES]


# --- CARD: the three methods under the three channel states on one drop -------------------------

def _card_row(task: StudyTask, state: str, method: str, **values) -> dict:
    return {**_row(task, method, channel_state=state), **values}


def run_card_task(spec: CardStudySpec, task: StudyTask) -> list[dict]:
    """CARD, server-only and device-only under Good, Normal and Poor on one drop: mean delay, server energy
    and cost U per device-round in range."""
    from data.card_profile import build_profile  # noqa: PLC0415
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    from solvers.card import solve_state  # noqa: PLC0415

    worker = _worker_name()
    inputs = card_drop(spec.base, task.seed, spec.sweep_name, task.sweep_value)
    profile = build_profile(inputs)
    rows = []
    for state in CHANNEL_STATES:
        clock = time.perf_counter()
        result = solve_state(inputs, profile, state)
        seconds = time.perf_counter() - clock
        for key, method in zip(("card", "server_only", "device_only"), CARD_METHODS):
            ok = bool(result.pairs)
            rows.append(_card_row(task, state, method, delay_s=result.mean(key, "delay_s"),
                                  energy_j=result.mean(key, "energy_j"), cost=result.mean(key, "cost"),
                                  pairs=len(result.pairs), out_of_range=len(result.out_of_range),
                                  status="ok" if ok else "failed",
                                  message="" if ok else "every device-round is out of range",
                                  seconds=seconds, worker=worker))
    return rows


def card_task_failure(task: StudyTask, message: str) -> list[dict]:
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    return [_card_row(task, state, method, delay_s=math.nan, energy_j=math.nan, cost=math.nan, pairs=0,
                      out_of_range=0, status="failed", message=message, seconds=math.nan, worker="")
            for state in CHANNEL_STATES for method in CARD_METHODS]


# --- Dask -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterSettings:
    scheduler: str | None = None  # tcp://host:port of an existing cluster; None: a LocalCluster
    workers: int | None = None  # LocalCluster workers; None: one per core
    connect_timeout_s: float = 30.0


class ClusterError(Exception):
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
    workers = settings.workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_tasks(function: Callable, spec, tasks: list[StudyTask], failure: Callable[[StudyTask, str], list[dict]],
              settings: ClusterSettings, progress: Progress | None = None) -> tuple[list[dict], dict]:
    """Every task on the cluster; the rows in task order and what ran where ({"workers": n, "addresses": ...}).
    Ctrl-C cancels the tasks, closes the cluster and re-raises."""
    from distributed import as_completed  # noqa: PLC0415

    progress = progress or Progress.silent()
    client, cluster = _connect(settings)
    futures = []
    try:
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
    except BaseException:
        if futures:
            client.cancel(futures)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def study_tasks(drops: int, seed: int, sweep_values: list[float] | None) -> list[StudyTask]:
    """drops x sweep values, drop-major; seed + drop is each drop's seed (the same at every sweep point)."""
    values = list(sweep_values) if sweep_values else [None]
    tasks = []
    for drop in range(drops):
        for value in values:
            tasks.append(StudyTask(len(tasks), drop, drop_seed(seed, drop), value))
    return tasks
