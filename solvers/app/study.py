"""Monte Carlo studies, one call per step (README, "Studies"):

    read -> validate -> tasks -> run on Dask -> report

read/validate: the workbook as the base case, like every run; tasks: drops x sweep values (data only);
run: `solvers.study.run_tasks` on a LocalCluster or an existing scheduler; report: the tidy table of
runs (CSV, Parquet, xlsx), the summary with 95 % confidence intervals, the reductions against the
benchmarks next to the papers' values, the failures, and the figures with their intervals, committed
last so that a failure or Ctrl-C writes nothing.
"""

from __future__ import annotations

import time

from data.card.inputs import card_inputs
from data.fedsllm import fedsllm_inputs
from reports.export import ReportFolder, summary_with_versions
from reports.plots import figures_table
from reports.study import (
    card_reductions,
    failures_frame,
    fedsllm_reductions,
    plot_fig4_with_ci,
    plot_pareto_with_ci,
    plot_sweep_with_ci,
    runs_frame,
    summary_frame,
    table_from_frame,
    worst_gap,
    write_parquet,
)
from solvers.app.context import RunContext, RunOutcome, read
from solvers.studies.card import CardStudySpec, card_task_failure, run_card_task
from solvers.studies.cluster import ClusterSettings, run_tasks
from solvers.studies.fedsllm import FedsllmStudySpec, fedsllm_task_failure, run_fedsllm_task
from solvers.studies.tasks import study_tasks

SWEEP_LABELS = {"power_dbm": "maximum transmit power (dBm)", "users": "users K", "w": "weight w of the delay"}


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


def fedsllm_monte_carlo(run: RunContext) -> RunOutcome:
    """FedsLLM: drops x sweep x Proposed/EB/FE/BA."""
    inputs = fedsllm_inputs(run.data_path, read(run))
    settings = run.settings
    spec = FedsllmStudySpec(dict(inputs.parameters), settings.users or inputs.user_count, settings.sweep.name,
                            settings.baseline_eta, settings.monte_carlo.tol, settings.solver.gap,
                            settings.monte_carlo.solve_limit, settings.monte_carlo.eta_search.value)
    rows, where = run_tasks(run_fedsllm_task, spec, tasks_of(run), fedsllm_task_failure, cluster_settings(run),
                            run.progress)
    frame = runs_frame(rows)
    summary = summary_frame(frame)
    reductions = fedsllm_reductions(frame)
    overall = reductions[reductions["sweep_value"] == "all"].iloc[0]
    facts = [
        ("study", "monte_carlo", "-", "FedsLLM: drops x sweep x strategies (Proposed, EB, FE, BA)"),
        ("users", spec.users, "-", "users K per drop (unless swept)"),
        *common_facts(run, frame, where, "drop x sweep point x strategy"),
        ("reduction_vs_BA", overall["mean"], "-", "mean of 1 - T_Proposed / T_BA over the drops (paper: 47.63 %)"),
        ("reduction_vs_BA_ci95_low", overall["ci95_low"], "-", "its 95 % confidence interval (Student t)"),
        ("reduction_vs_BA_ci95_high", overall["ci95_high"], "-", "its 95 % confidence interval (Student t)"),
        ("worst_gap", worst_gap(frame), "-", "largest relative duality gap of a Proposed or FE run"),
        ("certified_by", (f"global branch and bound over eta to {settings.monte_carlo.tol:g}"
                          if spec.eta_search == "certified" else "structured duality gap at the searched eta")
         + " (Proposed), structured duality gap (FE)", "-", "what proves each run's optimum"),
    ]
    figures = []
    if settings.sweep.name:
        name = settings.sweep.name
        label = None if name == "power_dbm" else SWEEP_LABELS.get(name, name)
        caption = (f"FedsLLM Fig. 2 over {settings.drops} drops: mean delay against "
                   f"{SWEEP_LABELS.get(name, name)}, K = {spec.users}" + ("" if name != "users" else " (swept)"))
        figures.append(("fig2.png", lambda path: plot_sweep_with_ci(summary, "T_s", label, caption, path,
                                                                    spec.users)))
    line = (f"Monte Carlo over {settings.drops} drops: Proposed is {overall['mean']:.2%} below BA, 95 % CI "
            f"[{overall['ci95_low']:.2%}, {overall['ci95_high']:.2%}] (paper: 47.63 %); "
            f"{failed_runs(frame)} of {len(frame)} runs failed; worst gap {worst_gap(frame):.1e}")
    return _report(run, "fedsllm.xlsx", facts, frame, summary, reductions, figures, [line],
                   {"reduction_vs_BA": float(overall["mean"]), "runs": len(frame)})


def card_monte_carlo(run: RunContext) -> RunOutcome:
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
    lines = [f"Monte Carlo over {settings.drops} drops ({failed_runs(frame)} of {len(frame)} runs failed):"]
    for record in reductions.itertuples():
        if settings.sweep.name is None or record.sweep_value == settings.sweep.values[0]:
            lines.append(f"  {record.channel_state:>6}: {record.comparison} {record.mean:.1%}, 95 % CI "
                         f"[{record.ci95_low:.1%}, {record.ci95_high:.1%}] (paper: {record.paper:.1%})")
    first = settings.sweep.values[0] if settings.sweep.name else None
    weight = first if settings.sweep.name == "w" else base.parameter("w")
    figures = [("fig4.png", lambda path: plot_fig4_with_ci(summary, first, path, weight))]
    if settings.sweep.name == "w":
        figures.append(("pareto.png", lambda path: plot_pareto_with_ci(summary, path, settings.drops)))
    return _report(run, "card.xlsx", facts, frame, summary, reductions, figures, lines, {"runs": len(frame)})


def _report(run: RunContext, workbook: str, facts, frame, summary, reductions, figures, lines,
            headline) -> RunOutcome:
    sweep_label = run.settings.sweep.name
    with ReportFolder(run.out) as folder:
        folder.add_table(summary_with_versions(
            [*facts, ("wall_time", time.perf_counter() - run.started, "s", "wall time of the whole study"),
             ("input", str(run.data_path), "-", "the base case's workbook")], run.provenance))
        folder.add_table(table_from_frame("means", summary, sweep_label))
        folder.add_table(table_from_frame("reductions", reductions, sweep_label))
        folder.add_table(table_from_frame("failures", failures_frame(frame), sweep_label))
        folder.add_table(table_from_frame("runs", frame, sweep_label))
        write_parquet(frame, folder.file("runs.parquet"))
        drawn = [draw(folder.file(name)) for name, draw in figures]
        if drawn:
            folder.add_table(figures_table(drawn))
        run.write_run_files(folder, {})
        final = folder.commit(workbook)
    return RunOutcome([*lines, f"report: {final}"], final, headline, folder.tables)

