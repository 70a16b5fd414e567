"""Sensitivity studies: which factor moves each headline, by Morris' elementary effects or Sobol' indices.

sample (SALib, fixed by `seed`) -> one Dask task per sample point (solvers/studies/cluster.run_tasks, the
same machinery as the Monte Carlo studies) -> indices (SALib) per output.

A point that fails (a range that breaks a rule between parameters, a solver's status) keeps its row in
the tidy table with status "failed" and no outputs. The indices of an output rest on the groups whose
every point gave that output: Morris' trajectories (D + 1 points each), Sobol's base samples (D + 2 points
each, first order only); every index row says how many points and groups it rests on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.studies.sensitivity_points import Factor, SensitivityMethod, card_point, fedsllm_point
from solvers.studies.tasks import StudyTask, worker_name

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
class SensitivitySpec:
    """What every task needs: the base case (workbook inputs), the factors, and the model's own spec."""

    base: object  # FedsllmInputs or CardInputs
    factors: tuple[Factor, ...]
    model_spec: object = None  # FedsllmStudySpec for FedsLLM


FEDSLLM_OUTPUTS = {"T_s": "s", "eta": "-", "reduction_vs_BA": "-"}


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


def run_fedsllm_point(spec: SensitivitySpec, task: SensitivityTask) -> list[dict]:
    """T*, eta* (Proposed by the Monte Carlo studies' eta search) and 1 - T* / T_BA at one sample point."""
    from solvers.fedsllm.scenario import SplitScenario  # noqa: PLC0415 (workers import what they run)
    from solvers.studies.fedsllm import fedsllm_strategy_rows  # noqa: PLC0415

    worker, started = worker_name(), time.perf_counter()
    empty = {name: math.nan for name in FEDSLLM_OUTPUTS}
    inputs = fedsllm_point(spec.base, spec.factors, task.values)
    problems = fedsllm_point_problems(inputs)
    if problems:
        return [_point_row(spec, task, empty, "failed", "; ".join(problems), time.perf_counter() - started, worker)]
    try:
        rows = fedsllm_strategy_rows(spec.model_spec, StudyTask(task.index, 0, task.seed, None), inputs,
                                     SplitScenario.from_inputs(inputs), worker)
    except (ValueError, ArithmeticError) as error:
        return [_point_row(spec, task, empty, "failed", f"{type(error).__name__}: {error}",
                           time.perf_counter() - started, worker)]
    by_strategy = {row["strategy"]: row for row in rows}
    proposed, ba = by_strategy["Proposed"], by_strategy["BA"]
    seconds = time.perf_counter() - started
    if proposed["status"] != "ok":
        return [_point_row(spec, task, empty, "failed", proposed["message"], seconds, worker)]
    outputs = {"T_s": proposed["T_s"], "eta": proposed["eta"], "reduction_vs_BA": 1.0 - proposed["T_s"] / ba["T_s"]}
    return [_point_row(spec, task, outputs, "ok", "", seconds, worker)]


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
    """run_tasks' row for a task that crashed on its worker."""
    def failure(task: SensitivityTask, message: str) -> list[dict]:
        return [_point_row(spec, task, {name: math.nan for name in outputs}, "failed", message, math.nan, "")]
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
