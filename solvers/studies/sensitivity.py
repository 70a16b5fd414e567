"""Sensitivity studies: which factor moves each headline, by Morris' elementary effects or Sobol' indices.

sample (SALib, fixed by `seed`) -> Dask tasks (solvers/studies/cluster.run_tasks, the same machinery as the
Monte Carlo studies): FedsLLM's points in chunks solved together on the batched engine (monte_carlo.engine=
batched, the default) or one task per point (per_task, and eta_search=certified); CARD's one per point ->
indices (SALib) per output.

A point that fails (a range that breaks a rule between parameters, a solver's status) keeps its row in
the tidy table with status "failed", its message and the outputs it could give (with objective=energy, a
point whose Problem (E) fails keeps its T*, eta* and reduction). The indices of an output rest on the groups whose
every point gave that output: Morris' trajectories (D + 1 points each), Sobol's base samples (D + 2 points
each, first order only); every index row says how many points and groups it rests on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.studies.sensitivity_points import Factor, SensitivityMethod, card_point, fedsllm_point
from solvers.studies.tasks import StudyChunk, StudyTask, study_chunks, worker_name

CONFIDENCE = 0.95
RESAMPLES = 1000  # bootstrap resamples of the confidence intervals


@dataclass(frozen=True)
class SensitivityTask(StudyTask):
    group: int = 0  # the point's Morris trajectory or Sobol base sample
    values: tuple[float, ...] = ()  # one value per factor, as sampled

    def label(self) -> str:
        return f"point {self.index + 1}"


@dataclass(frozen=True)
class SensitivityDesign:
    """The sampled points: one row of `values` per point, in SALib's order."""

    method: SensitivityMethod
    factors: tuple[Factor, ...]
    samples: int
    levels: int
    seed: int
    values: np.ndarray  # points x factors

    @property
    def group_size(self) -> int:
        return len(self.factors) + (1 if self.method is SensitivityMethod.morris else 2)

    def tasks(self) -> list[SensitivityTask]:
        return [SensitivityTask(i, 0, self.seed, None, i // self.group_size, tuple(float(v) for v in row))
                for i, row in enumerate(self.values)]


def _problem(factors) -> dict:
    return {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [[f.low, f.high] for f in factors]}


def sample_design(method: SensitivityMethod, factors: list[Factor], samples: int, levels: int,
                  seed: int) -> SensitivityDesign:
    """SALib's sample: Morris trajectories on a `levels`-grid, or Saltelli's sample (first order and total)."""
    problem = _problem(factors)
    if method is SensitivityMethod.morris:
        from SALib.sample import morris  # noqa: PLC0415 (start-up stays fast without SALib)
        values = morris.sample(problem, samples, num_levels=levels, seed=seed)
    else:
        from SALib.sample import sobol  # noqa: PLC0415
        values = sobol.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed)
    return SensitivityDesign(method, tuple(factors), samples, levels, seed, np.asarray(values, dtype=float))


# --- The tasks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnergyPointSpec:
    """objective=energy: Problem (E) at each point under T_max = max_delay_s, or max_delay_factor x its T*."""

    max_delay_s: float | None
    max_delay_factor: float
    refine_tolerance: float | None  # eta.refine_tol, or None: the grid only


@dataclass(frozen=True)
class SensitivitySpec:
    """What every task needs: the base case (workbook inputs), the factors, and the model's own spec."""

    base: object  # FedsllmInputs or CardInputs
    factors: tuple[Factor, ...]
    model_spec: object = None  # FedsllmStudySpec for FedsLLM
    energy: EnergyPointSpec | None = None  # FedsLLM with objective=energy: E* is an output too


FEDSLLM_OUTPUTS = {"T_s": "s", "eta": "-", "reduction_vs_BA": "-"}
ENERGY_OUTPUT = {"E_J": "J"}  # objective=energy


def fedsllm_outputs(energy: bool) -> dict[str, str]:
    return {**FEDSLLM_OUTPUTS, **(ENERGY_OUTPUT if energy else {})}


@dataclass(frozen=True)
class SensitivityChunk(StudyChunk):
    """Consecutive sample points that one Dask task solves together (the batched engine)."""

    def label(self) -> str:
        return f"points {self.tasks[0].index + 1} to {self.tasks[-1].index + 1}"


def sensitivity_chunks(tasks: list[SensitivityTask], workers: int) -> list[SensitivityChunk]:
    return [SensitivityChunk(chunk.tasks) for chunk in study_chunks(tasks, workers)]


def card_outputs() -> dict[str, str]:
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    units = {"delay_s": "s", "energy_j": "J", "delay_reduction": "-", "energy_reduction": "-"}
    return {f"{name}_{state.lower()}": unit for state in CHANNEL_STATES for name, unit in units.items()}


def _point_row(spec: SensitivitySpec, task: SensitivityTask, outputs: dict, status: str, message: str,
               seconds: float, worker: str) -> dict:
    values = {f.name: f.applied(v) for f, v in zip(spec.factors, task.values)}
    return {"point": task.index, "group": task.group, **values, **outputs, "status": status, "message": message,
            "seconds": seconds, "worker": worker}


def fedsllm_point_problems(inputs) -> list[str]:
    """The rules between parameters and the links' SNR floor (data/fedsllm.py) at one sample point."""
    from data.fedsllm.inputs import FEDSLLM_CROSS_RULES, LINKS, SNR_FLOOR_DB, full_band_snr_db  # noqa: PLC0415
    p = inputs.parameters
    problems = [f"{rule.reported_at} = {p[rule.reported_at]:g}: expected {rule.expected(p)}"
                for rule in FEDSLLM_CROSS_RULES if not rule.holds(p)]
    for gain, power, bandwidth, server in LINKS.values():
        snr = full_band_snr_db(inputs.users[gain], inputs.users[power], p["noise_psd_dbm_per_hz"], p[bandwidth])
        if np.min(snr) < SNR_FLOOR_DB:
            problems.append(f"a user's SNR to the {server} is {np.min(snr):.1f} dB with the whole band, below the "
                            f"model's {SNR_FLOOR_DB:g} dB")
    return problems


def _fedsllm_empty(spec: SensitivitySpec) -> dict:
    return {name: math.nan for name in fedsllm_outputs(spec.energy is not None)}


def point_energy_j(spec: SensitivitySpec, inputs, eta: float) -> float:
    """Problem (E) for Proposed at one point: the least energy under T_max, searched over eta from the delay
    optimum at eta* (the structured engine's allocation there); ValueError when T_max is below T*."""
    from solvers.fedsllm.energy.engines import below_least_delay  # noqa: PLC0415 (workers import what they run)
    from solvers.fedsllm.energy.search import EnergySearch, Strategy  # noqa: PLC0415
    from solvers.fedsllm.engines import Structured  # noqa: PLC0415
    from solvers.fedsllm.search import eta_grid_for  # noqa: PLC0415
    from solvers.runtime.ipopt import IpoptSolver  # noqa: PLC0415

    gap, energy = spec.model_spec.gap, spec.energy
    optimum = Structured(inputs, gap).solve(eta, None, "sensitivity: the delay optimum at eta*")
    if optimum.allocation is None:
        raise ArithmeticError(f"the delay optimum at eta* = {eta:.6g}: {optimum.record.status}")
    least = float(optimum.allocation.T)
    limit = energy.max_delay_s if energy.max_delay_s is not None else energy.max_delay_factor * least
    if below_least_delay(limit, least):
        raise ValueError(f"energy.max_delay_s = {limit:.6g} s is below this point's least delay T* = {least:.6g} s")
    search = EnergySearch(inputs, IpoptSolver(), limit, Strategy("Proposed"), gap=gap)
    return float(search.run(eta_grid_for(inputs), energy.refine_tolerance, optimum.allocation).best.energy_j)


def fedsllm_point_row(spec: SensitivitySpec, task: SensitivityTask, inputs, rows: list[dict], seconds: float,
                      worker: str) -> dict:
    """A point's row from its strategies' rows: T*, eta* (Proposed), 1 - T* / T_BA and, with objective=energy,
    E* (Problem (E) under T_max, solved here)."""
    by_strategy = {row["strategy"]: row for row in rows}
    proposed, ba = by_strategy["Proposed"], by_strategy["BA"]
    if proposed["status"] != "ok":
        return _point_row(spec, task, _fedsllm_empty(spec), "failed", proposed["message"], seconds, worker)
    outputs = {"T_s": proposed["T_s"], "eta": proposed["eta"], "reduction_vs_BA": 1.0 - proposed["T_s"] / ba["T_s"]}
    if spec.energy is not None:
        from solvers.runtime.ipopt import SolveError  # noqa: PLC0415

        clock = time.perf_counter()
        try:
            outputs["E_J"] = point_energy_j(spec, inputs, proposed["eta"])
        except (ValueError, ArithmeticError, SolveError) as error:
            message = f"Problem (E): {_first_line(error)}"
            return _point_row(spec, task, {**_fedsllm_empty(spec), **outputs}, "failed", message,
                              seconds + time.perf_counter() - clock, worker)
        seconds += time.perf_counter() - clock
    return _point_row(spec, task, outputs, "ok", "", seconds, worker)


def _first_line(error: Exception) -> str:
    """What failed, in one line: a SolveError's first failure (its eta and status), else the message."""
    failures = getattr(error, "failures", None)
    if failures:
        return str(failures[0])
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def _fedsllm_inputs_or_row(spec: SensitivitySpec, task: SensitivityTask, started: float, worker: str):
    """The point's inputs and scenario, or its failed row when a rule between its values fails."""
    from solvers.fedsllm.scenario import SplitScenario  # noqa: PLC0415 (workers import what they run)

    inputs = fedsllm_point(spec.base, spec.factors, task.values)
    problems = fedsllm_point_problems(inputs)
    message = "; ".join(problems)
    if not problems:
        try:
            return inputs, SplitScenario.from_inputs(inputs), None
        except (ValueError, ArithmeticError) as error:
            message = f"{type(error).__name__}: {error}"
    return None, None, _point_row(spec, task, _fedsllm_empty(spec), "failed", message,
                                  time.perf_counter() - started, worker)


def run_fedsllm_point(spec: SensitivitySpec, task: SensitivityTask) -> list[dict]:
    """T*, eta* (Proposed by the Monte Carlo studies' eta search, per task) and 1 - T* / T_BA at one sample
    point (the reference of run_fedsllm_points, and the path of eta_search=certified)."""
    from solvers.studies.fedsllm import fedsllm_strategy_rows  # noqa: PLC0415 (workers import what they run)

    worker, started = worker_name(), time.perf_counter()
    inputs, scenario, failed = _fedsllm_inputs_or_row(spec, task, started, worker)
    if failed is not None:
        return [failed]
    try:
        rows = fedsllm_strategy_rows(spec.model_spec, StudyTask(task.index, 0, task.seed, None), inputs, scenario,
                                     worker)
    except (ValueError, ArithmeticError) as error:
        return [_point_row(spec, task, _fedsllm_empty(spec), "failed", f"{type(error).__name__}: {error}",
                           time.perf_counter() - started, worker)]
    return [fedsllm_point_row(spec, task, inputs, rows, time.perf_counter() - started, worker)]


def run_fedsllm_points(spec: SensitivitySpec, chunk: SensitivityChunk) -> list[dict]:
    """run_fedsllm_point's rows for every point of `chunk`, the points solved together on the batched engine
    (solvers/studies/fedsllm_batched.py: each point a scenario with its own convergence test, gap and status).
    A row's seconds are the chunk's solve time shared out evenly, plus its own Problem (E)."""
    from solvers.fedsllm.search import eta_grid_for  # noqa: PLC0415 (workers import what they run)
    from solvers.studies.fedsllm_batched import fedsllm_batch_rows  # noqa: PLC0415 (numba)

    worker = worker_name()
    rows_of, by_grid, built_s = {}, {}, {}
    for task in chunk.tasks:
        started = time.perf_counter()
        inputs, scenario, failed = _fedsllm_inputs_or_row(spec, task, started, worker)
        if failed is not None:
            rows_of[task.index] = failed
        else:  # eta_step is never a factor (sensitivity_points.EXCLUDED): one grid, grouped all the same
            by_grid.setdefault(eta_grid_for(inputs), []).append((task, inputs, scenario))
            built_s[task.index] = time.perf_counter() - started
    for grid, points in by_grid.items():
        clock = time.perf_counter()
        try:
            strategy_rows = fedsllm_batch_rows(spec.model_spec, [StudyTask(t.index, 0, t.seed, None)
                                                                 for t, _, _ in points],
                                               [scenario for _, _, scenario in points], grid, worker)
        except (ValueError, ArithmeticError):  # the batch as a whole: each point again on its own, failing alone
            for task, _, _ in points:
                rows_of[task.index] = run_fedsllm_point(spec, task)[0]
            continue
        seconds = (time.perf_counter() - clock) / len(points)
        for (task, inputs, _), rows in zip(points, strategy_rows):
            rows_of[task.index] = _guarded_point_row(spec, task, inputs, rows, seconds + built_s[task.index], worker)
    return [rows_of[task.index] for task in chunk.tasks]


def _guarded_point_row(spec: SensitivitySpec, task: SensitivityTask, inputs, rows: list[dict], seconds: float,
                       worker: str) -> dict:
    """fedsllm_point_row, a point whose own step raises failing alone with the error's type and message (not
    the chunk's other points, already solved)."""
    try:
        return fedsllm_point_row(spec, task, inputs, rows, seconds, worker)
    except Exception as error:  # noqa: BLE001 (recorded in the point's row, never silenced)
        return _point_row(spec, task, _fedsllm_empty(spec), "failed", f"{type(error).__name__}: {_first_line(error)}",
                          seconds, worker)


def run_card_point(spec: SensitivitySpec, task: SensitivityTask) -> list[dict]:
    """CARD's mean delay and server energy and both reductions (delay against device-only, server energy
    against server-only) under each channel state at one sample point."""
    from data.card.profile import build_profile  # noqa: PLC0415
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    from solvers.card.state import solve_state  # noqa: PLC0415

    worker, started = worker_name(), time.perf_counter()
    outputs = {name: math.nan for name in card_outputs()}
    failures = []
    try:
        inputs = card_point(spec.base, spec.factors, task.values)
        profile = build_profile(inputs)
        for state in CHANNEL_STATES:
            result = solve_state(inputs, profile, state)
            if not result.pairs:
                failures.append(f"{state}: every device-round is out of range")
                continue
            suffix = state.lower()
            outputs[f"delay_s_{suffix}"] = result.mean("card", "delay_s")
            outputs[f"energy_j_{suffix}"] = result.mean("card", "energy_j")
            outputs[f"delay_reduction_{suffix}"] = 1.0 - result.mean("card", "delay_s") / result.mean(
                "device_only", "delay_s")
            outputs[f"energy_reduction_{suffix}"] = 1.0 - result.mean("card", "energy_j") / result.mean(
                "server_only", "energy_j")
    except (ValueError, ArithmeticError) as error:
        failures.append(f"{type(error).__name__}: {error}")
    status = "failed" if failures else "ok"
    return [_point_row(spec, task, outputs, status, "; ".join(failures), time.perf_counter() - started, worker)]


def point_failure(spec: SensitivitySpec, outputs: dict[str, str]):
    """run_tasks' rows for a task (a point or a chunk of points) that crashed on its worker."""
    def failure(item, message: str) -> list[dict]:
        tasks = item.tasks if isinstance(item, StudyChunk) else (item,)
        return [_point_row(spec, task, {name: math.nan for name in outputs}, "failed", message, math.nan, "")
                for task in tasks]
    return failure


# --- The indices -----------------------------------------------------------------------------

def _complete_groups(y: np.ndarray, group_size: int) -> np.ndarray:
    """The groups (trajectories or base samples) whose every point has a finite output."""
    return np.flatnonzero(np.isfinite(y.reshape(-1, group_size)).all(axis=1))


def output_indices(design: SensitivityDesign, y: np.ndarray) -> list[dict]:
    """One row per factor: Morris mu*, its confidence half-width, sigma and mu, or Sobol S1 and ST with theirs,
    on the complete groups; the bootstrap seeded from the design's seed."""
    size = design.group_size
    groups = _complete_groups(y, size)
    total = len(y) // size
    rows = [{"parameter": f.name, "groups": len(groups), "groups_total": total, "points": len(groups) * size}
            for f in design.factors]
    keys = ("mu_star", "mu_star_conf", "sigma", "mu") if design.method is SensitivityMethod.morris else (
        "S1", "S1_conf", "ST", "ST_conf")
    if len(groups) == 0:
        return [{**row, **{k: math.nan for k in keys}} for row in rows]
    points = (groups[:, None] * size + np.arange(size)).ravel()
    x, y = design.values[points], y[points]
    problem = _problem(design.factors)
    if design.method is SensitivityMethod.morris:
        from SALib.analyze import morris  # noqa: PLC0415
        found = morris.analyze(problem, x, y, num_resamples=RESAMPLES, conf_level=CONFIDENCE,
                               num_levels=design.levels, seed=design.seed)
    elif np.ptp(y) == 0:  # a constant output: no variance to share out (SALib would divide by zero)
        found = {k: np.zeros(len(design.factors)) for k in keys}
    else:
        from SALib.analyze import sobol  # noqa: PLC0415
        found = sobol.analyze(problem, y, calc_second_order=False, num_resamples=RESAMPLES, conf_level=CONFIDENCE,
                              seed=design.seed + 1)  # SALib ignores a seed of 0
    return [{**row, **{k: float(found[k][i]) for k in keys}} for i, row in enumerate(rows)]


def indices_rows(design: SensitivityDesign, frame, outputs: dict[str, str]) -> list[dict]:
    """Every output's indices, each factor ranked (1 = moves it most: largest mu*, or ST)."""
    rank_key = "mu_star" if design.method is SensitivityMethod.morris else "ST"
    rows = []
    for output, unit in outputs.items():
        y = frame[output].to_numpy(dtype=float)
        found = output_indices(design, y)
        order = sorted(range(len(found)), key=lambda i: -found[i][rank_key] if math.isfinite(found[i][rank_key])
                       else math.inf)
        for rank, i in enumerate(order, start=1):
            rows.append({"output": output, "unit": unit, "rank": rank, **found[i]})
    return rows
