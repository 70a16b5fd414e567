"""Monte Carlo and sensitivity studies, one call per step (README, "Studies", "Sensitivity studies"):

    read -> validate -> tasks -> run on Dask -> report

read/validate: the workbook as the base case, like every run; tasks: drops x sweep values (data only);
run: `solvers.studies.cluster.run_tasks` on a LocalCluster or an existing scheduler; report (a Report in
memory, written whole by the caller, so that a failure or Ctrl-C writes nothing): the tidy table of runs
(CSV, Parquet, xlsx), the summary with 95 % confidence intervals, the reductions against the benchmarks
next to the papers' values, the failures, and the figures with their intervals.
"""

from __future__ import annotations

import time

import pandas as pd

from data.card.inputs import card_inputs
from data.fedsllm.inputs import fedsllm_inputs
from data.papers import PAPER_DELAY_REDUCTION, PAPER_ENERGY_REDUCTION, PAPER_REDUCTION_VS_BA
from reports.console import card_study_lines, fedsllm_study_lines
from reports.export import Percent, summary_with_versions
from reports.files.report import Report
from reports.study import (
    REDUCTION_FORMATS,
    card_reductions,
    failures_frame,
    fedsllm_reductions,
    fig4_figures,
    overall_reduction,
    plot_pareto_with_ci,
    plot_sweep_with_ci,
    runs_frame,
    summary_frame,
    table_from_frame,
    worst_gap,
    write_parquet,
)
from reports.study.sensitivity import indices_frame, indices_table, plot_indices, points_table, top_factor_lines
from reports.sweep_axis import sweep_axis
from solvers.app.config import ConfigError
from solvers.app.context import RunContext, read
from solvers.studies.card import CardStudySpec, card_task_failure, run_card_task
from solvers.studies.cluster import ClusterSettings, run_tasks
from solvers.fedsllm.energy.settings import Objective
from solvers.studies.fedsllm import FedsllmStudySpec, StudyEngine, fedsllm_task_failure, run_fedsllm_task
from solvers.studies.sensitivity import (
    EnergyPointSpec, SensitivitySpec, card_outputs, fedsllm_outputs, indices_rows, point_failure, run_card_point,
    run_fedsllm_point, run_fedsllm_points, sample_design, sensitivity_chunks,
)
from solvers.studies.sensitivity_points import column_problems, factors_of
from solvers.studies.tasks import study_chunks, study_tasks


def cluster_settings(run: RunContext) -> ClusterSettings:
    return ClusterSettings(run.settings.dask.scheduler, run.settings.dask.workers)


def tasks_of(run: RunContext):
    sweep = run.settings.sweep
    return study_tasks(run.settings.drops, run.settings.seed, list(sweep.values) if sweep.name else None)


def failed_runs(frame) -> int:
    return int((frame["status"] != "ok").sum())


def common_facts(run: RunContext, frame, where: dict, runs: str) -> list[tuple]:
    """The summary rows both models' studies share: drops and seeds, the sweep, runs and failures, the cluster."""
    settings = run.settings
    return [
        ("drops", settings.drops, "-", f"random drops, seeds {settings.seed} to {settings.seed + settings.drops - 1}"),
        ("sweep", settings.sweep.name or "none", "-", "the swept quantity"),
        ("runs", len(frame), "-", runs),
        ("runs_failed", failed_runs(frame), "-", "runs that failed (listed in 'failures')"),
        ("dask_workers", where["workers"], "-", "workers the study ran on"),
        ("dask_scheduler", settings.dask.scheduler or "local cluster", "-", "where the study ran"),
    ]


def fedsllm_monte_carlo(run: RunContext) -> Report:
    """FedsLLM: drops x sweep x Proposed/EB/FE/BA."""
    inputs = fedsllm_inputs(run.data_path, read(run))
    settings = run.settings
    spec = FedsllmStudySpec(dict(inputs.parameters), settings.users or inputs.user_count, settings.sweep.name,
                            settings.baseline_eta, settings.monte_carlo.tol, settings.solver.gap,
                            settings.monte_carlo.solve_limit, settings.monte_carlo.eta_search.value)
    # The batched engine runs the eta search (grid + Brent); the certified search runs per task.
    batched = settings.monte_carlo.engine is StudyEngine.batched and spec.eta_search == "search"
    if batched:
        from solvers.studies.fedsllm_batched import fedsllm_chunk_failure, run_fedsllm_chunk  # noqa: PLC0415 (numba)
        rows, where = run_tasks(run_fedsllm_chunk, spec, tasks_of(run), fedsllm_chunk_failure, cluster_settings(run),
                                run.progress, study_chunks)
    else:
        rows, where = run_tasks(run_fedsllm_task, spec, tasks_of(run), fedsllm_task_failure, cluster_settings(run),
                                run.progress)
    frame = runs_frame(rows)
    summary = summary_frame(frame)
    reductions = fedsllm_reductions(frame)
    overall = overall_reduction(reductions)
    axis = sweep_axis("fedsllm", settings.sweep.name)
    facts = [
        ("study", "monte_carlo", "-", "FedsLLM: drops x sweep x strategies (Proposed, EB, FE, BA)"),
        ("users", spec.users, "-", "users K per drop (unless swept)"),
        *common_facts(run, frame, where, "drop x sweep point x strategy"),
        ("study_engine", "batched" if batched else "per_task", "-",
         "batched: chunks of tasks solved together; per_task: one Dask task per drop and sweep point"),
        ("reduction_vs_BA", Percent(overall["mean"]), "-", f"mean of 1 - T_Proposed / T_BA over the drops (paper: {PAPER_REDUCTION_VS_BA:.2%})"),
        ("reduction_vs_BA_ci95_low", Percent(overall["ci95_low"]), "-", "its 95 % confidence interval (Student t)"),
        ("reduction_vs_BA_ci95_high", Percent(overall["ci95_high"]), "-", "its 95 % confidence interval (Student t)"),
        ("worst_gap", worst_gap(frame), "-", "largest relative duality gap of a Proposed or FE run"),
        ("certified_by", (f"global branch and bound over eta to {settings.monte_carlo.tol:g}"
                          if spec.eta_search == "certified" else "structured duality gap at the searched eta")
         + " (Proposed), structured duality gap (FE)", "-", "what proves each run's optimum"),
    ]
    figures = {}
    if axis is not None:
        users = None if axis.name == "users" else spec.users
        caption = (f"FedsLLM Fig. 2 over {settings.drops} drops: mean delay against {axis.description}"
                   + (f", K = {users}" if users else ""))
        figures["fig2"] = lambda path: plot_sweep_with_ci(summary, "T_s", axis, caption, path, users,
                                                         settings.baseline_eta)
    lines = fedsllm_study_lines(reductions, axis, settings.drops, failed_runs(frame), len(frame), worst_gap(frame))
    return _report(run, "fedsllm.xlsx", facts, frame, summary, reductions, figures, lines,
                   {"reduction_vs_BA": Percent(overall["mean"]), "runs": len(frame)}, axis)


def card_monte_carlo(run: RunContext) -> Report:
    """CARD: drops x sweep (w: the Pareto curve) x channel states x CARD/server-only/device-only."""
    base = card_inputs(run.data_path, read(run))
    settings = run.settings
    # the command line's w and rounds, as in the decisions run (every channel state is studied)
    base = base.with_parameters(**{k: v for k, v in (("w", settings.w), ("rounds", settings.rounds)) if v is not None})
    spec = CardStudySpec(base, settings.sweep.name)
    rows, where = run_tasks(run_card_task, spec, tasks_of(run), card_task_failure, cluster_settings(run),
                            run.progress)
    frame = runs_frame(rows)
    summary = summary_frame(frame)
    reductions = card_reductions(frame)
    facts = [("study", "monte_carlo", "-", "CARD: drops x sweep x channel states x methods"),
             *common_facts(run, frame, where, "drop x sweep point x channel state x method")]
    axis = sweep_axis("card", settings.sweep.name)
    lines = card_study_lines(reductions, axis, settings.drops, failed_runs(frame), len(frame))
    figures = fig4_figures(summary, axis, base.parameter("w"))
    if settings.sweep.name == "w":
        figures["pareto"] = lambda path: plot_pareto_with_ci(summary, path)
    return _report(run, "card.xlsx", facts, frame, summary, reductions, figures, lines, {"runs": len(frame)}, axis)


def _report(run: RunContext, workbook: str, facts, frame, summary, reductions, figures, lines,
            headline, axis) -> Report:
    tables = [summary_with_versions([*facts, ("wall_time", time.perf_counter() - run.started, "s",
                                              "wall time of the whole study"),
                                     ("input", str(run.data_path), "-", "the base case's workbook")], run.provenance),
              table_from_frame("means", summary, axis),
              table_from_frame("reductions", reductions, axis, REDUCTION_FORMATS),
              table_from_frame("failures", failures_frame(frame), axis),
              table_from_frame("runs", frame, axis)]
    return Report(workbook, tables, lines, headline, figures,
                  {"runs.parquet": lambda path: write_parquet(frame, path, axis)}, run.run_files({}))


# --- study=sensitivity: read -> validate the factors on the workbook -> sample -> run on Dask -> indices -> report
# The headline each model's console compares with the paper: (output, the paper's value)
FEDSLLM_HEADLINES = {"reduction_vs_BA": PAPER_REDUCTION_VS_BA}
CARD_HEADLINES = {f"{name}_{state}": paper for state in ("good", "normal", "poor")
                  for name, paper in (("delay_reduction", PAPER_DELAY_REDUCTION),
                                      ("energy_reduction", PAPER_ENERGY_REDUCTION))}


def _design(run: RunContext, model: str, columns_by_sheet: dict):
    config = run.settings.sensitivity
    factors = factors_of(model, dict(config.parameters))
    problems = column_problems(factors, columns_by_sheet)
    if problems:
        raise ConfigError.listing("bad setting", problems)
    return sample_design(config.method, factors, config.samples, config.levels, run.settings.seed)


def fedsllm_sensitivity(run: RunContext) -> Report:
    """FedsLLM: T*, eta* and the reduction against BA (and E* with objective=energy) over the factors' ranges."""
    inputs = fedsllm_inputs(run.data_path, read(run))
    settings = run.settings
    design = _design(run, "fedsllm", {"users": inputs.users})
    model_spec = FedsllmStudySpec(dict(inputs.parameters), inputs.user_count, None, settings.baseline_eta,
                                  settings.monte_carlo.tol, settings.solver.gap, settings.monte_carlo.solve_limit,
                                  settings.monte_carlo.eta_search.value)
    energy = None
    if settings.objective is Objective.energy:
        energy = EnergyPointSpec(settings.energy.max_delay_s, settings.energy.max_delay_factor,
                                 settings.eta.refine_tol if settings.eta.refine else None)
    spec = SensitivitySpec(inputs, design.factors, model_spec, energy)
    # The batched engine runs the eta search (grid + Brent); the certified search runs per point.
    batched = settings.monte_carlo.engine is StudyEngine.batched and model_spec.eta_search == "search"
    facts = [("users", inputs.user_count, "-", "users K of the workbook (the base case)"),
             ("study_engine", "batched" if batched else "per_task", "-",
              "batched: chunks of points solved together; per_task: one Dask task per point")]
    if energy is not None:
        facts.append(("E_J", "Problem (E) under T_max = " + (f"{energy.max_delay_s:g} s" if energy.max_delay_s
                      is not None else f"{energy.max_delay_factor:g} x each point's T*"), "-",
                      "E*: grid and Brent over eta, the structured engine's gap at each eta"))
    task = (run_fedsllm_points, sensitivity_chunks) if batched else (run_fedsllm_point, None)
    return _study(run, "fedsllm", spec, design, task, fedsllm_outputs(energy is not None), FEDSLLM_HEADLINES, facts)


def card_sensitivity(run: RunContext) -> Report:
    """CARD: mean delay, mean server energy and both reductions under each channel state over the factors."""
    base = card_inputs(run.data_path, read(run))
    settings = run.settings
    base = base.with_parameters(**{k: v for k, v in (("w", settings.w), ("rounds", settings.rounds)) if v is not None})
    design = _design(run, "card", {"devices": base.devices, "server": {k: [v] for k, v in base.server.items()}})
    spec = SensitivitySpec(base, design.factors)
    facts = [("devices", len(base.device_ids), "-", "devices of the workbook (the base case)")]
    return _study(run, "card", spec, design, (run_card_point, None), card_outputs(), CARD_HEADLINES, facts)


def _headline_lines(frame: pd.DataFrame, headlines: dict[str, float]) -> tuple[list[str], list[tuple]]:
    """Each headline's range over the points that gave it (as its indices use them) next to the paper's value
    (console lines, summary rows)."""
    lines, facts = [], []
    for output, paper in headlines.items():
        values = frame[output].dropna()
        if values.empty:
            continue
        low, high = float(values.min()), float(values.max())
        inside = "inside" if low <= paper <= high else "outside"
        lines.append(f"{output} over the sample: {low:.2%} to {high:.2%} (paper {paper:.2%}, {inside} the range)")
        facts += [(f"{output}_min", Percent(low), "-", f"smallest {output} over the points that gave it"),
                  (f"{output}_max", Percent(high), "-",
                   f"largest {output} over the points that gave it (paper {paper:.2%})")]
    return lines, facts


def _study(run: RunContext, model: str, spec: SensitivitySpec, design, task: tuple, outputs: dict[str, str],
           headlines: dict[str, float], facts: list[tuple]) -> Report:
    """`task`: (the function a Dask task runs, how points are grouped into chunks or None: one per point)."""
    settings = run.settings
    function, group = task
    rows, where = run_tasks(function, spec, design.tasks(), point_failure(spec, outputs), cluster_settings(run),
                            run.progress, group)
    frame = pd.DataFrame(rows)
    method = design.method.value
    indices = indices_frame(indices_rows(design, frame, outputs), method)
    failed = int((frame["status"] != "ok").sum())
    headline_lines, headline_facts = _headline_lines(frame, headlines)
    factor_text = ", ".join(f"{f.name} in [{f.low:g}, {f.high:g}]{'' if f.unit in ('-', 'x') else ' ' + f.unit}"
                            + (" (x the workbook's column)" if f.sheet else "") for f in design.factors)
    unit = "trajectories" if method == "morris" else "base samples"
    summary = [("study", "sensitivity", "-", f"{model}: {method} over the factors"),
               ("method", method, "-", "morris: elementary effects (mu*, sigma); sobol: S1 and ST (SALib)"),
               ("factors", factor_text, "-", "the factors and their ranges"),
               ("samples", design.samples, "-", unit),
               *([("levels", design.levels, "-", "Morris grid levels")] if method == "morris" else []),
               ("seed", design.seed, "-", "seed of the sample and of the bootstrap intervals"),
               ("points", len(frame), "-", "sample points run"),
               ("points_failed", failed, "-", "points that failed (listed with their message in 'points')"),
               *facts, *headline_facts,
               ("dask_workers", where["workers"], "-", "workers the study ran on"),
               ("dask_scheduler", settings.dask.scheduler or "local cluster", "-", "where the study ran")]
    setting = (f"{model}, {method}: {design.samples} {unit}, {len(frame) - failed} of {len(frame)} points ok; "
               + ("bars: mu*'s 95 % bootstrap CI; dotted: sigma = mu*" if method == "morris"
                  else "bars: 95 % bootstrap CI"))
    factor_fields = [(f.name, f.unit, f"{f.field.description}" + (" (factor on the column)" if f.sheet else ""))
                     for f in design.factors]
    tables = [summary_with_versions(
                  [*summary, ("wall_time", time.perf_counter() - run.started, "s", "wall time of the whole study"),
                   ("input", str(run.data_path), "-", "the base case's workbook")], run.provenance),
              indices_table(indices), points_table(frame, factor_fields, outputs)]
    lines = [f"{model} sensitivity ({method}, {len(frame)} points, {failed} failed, on {where['workers']} Dask "
             f"worker{'s' if where['workers'] != 1 else ''}): the factors that move each output most",
             *top_factor_lines(indices, method), *headline_lines]
    headline = {"points": len(frame), "points_failed": failed}
    return Report(f"{model}.xlsx", tables, lines, headline,
                  {"sensitivity": lambda path: plot_indices(indices, method, setting, path)},
                  {"points.parquet": lambda path: frame.to_parquet(path, index=False)}, run.run_files({}))

