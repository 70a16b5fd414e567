"""Monte Carlo study reports: the tidy table of runs, means with Student-t confidence intervals, the
reductions against the benchmarks, and the figures with their intervals.

Reads the rows `solvers.study` returns (plain dicts, one per drop, sweep point and strategy); nothing here
imports `solvers/`. A run that failed is counted, never averaged: every mean says how many runs it covers.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from data.papers import PAPER_DELAY_REDUCTION, PAPER_ENERGY_REDUCTION, PAPER_REDUCTION_VS_BA
from data.schema import CHANNEL_STATES
from reports.export import ID, PERCENT, Column, ResultTable
from reports.plots import fig4_tops, plot_fig2, plot_fig4, plot_pareto
from reports.sweep_axis import POINT, SWEEP_COLUMN, WHOLE_SWEEP, SweepAxis, named_sweep

CONFIDENCE = 0.95


def mean_interval(values) -> tuple[float, float, float, float, int]:
    """(mean, standard deviation, CI low, CI high, n) of the finite values; the CI is Student t at 95 %
    (NaN for fewer than two values)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(data)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean = float(data.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan, n
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half, n


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def _group_keys(frame: pd.DataFrame) -> list[str]:
    return [SWEEP_COLUMN, *(["channel_state"] if "channel_state" in frame else []), "strategy"]


METRICS = {"T_s": "s", "delay_s": "s", "energy_j": "J", "cost": "-"}


def summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Per sweep point, (channel state) and strategy, every metric: mean, std, 95 % CI, runs ok and failed."""
    keys = _group_keys(frame)
    metrics = [m for m in METRICS if m in frame]
    records = []
    for group, part in frame.groupby(keys, sort=False, dropna=False):
        ok = part[part["status"] == "ok"]
        for metric in metrics:
            mean, std, low, high, n = mean_interval(ok[metric])
            records.append({**dict(zip(keys, group)), "metric": metric, "unit": METRICS[metric], "mean": mean,
                            "std": std, "ci95_low": low, "ci95_high": high, "runs_ok": n,
                            "runs_failed": int((part["status"] != "ok").sum())})
    return pd.DataFrame(records)


def _paired(frame: pd.DataFrame, keys: list[str], ours: str, theirs: str, metric: str) -> pd.DataFrame:
    """Per drop (and keys), 1 - ours / theirs, where both runs are ok."""
    ok = frame[frame["status"] == "ok"]
    index = ["drop", *keys]
    mine = ok[ok["strategy"] == ours].set_index(index)[metric]
    other = ok[ok["strategy"] == theirs].set_index(index)[metric]
    joined = pd.concat([mine.rename("ours"), other.rename("theirs")], axis=1, join="inner")
    return (1.0 - joined["ours"] / joined["theirs"]).rename("reduction").reset_index()


def fedsllm_reductions(frame: pd.DataFrame) -> pd.DataFrame:
    """Proposed against BA: 1 - T_Proposed / T_BA per drop, its mean and CI per sweep point, and over the
    whole sweep (each drop's mean over the sweep points first, so the drops stay independent). Every column
    has one type: the whole sweep's row says so in `scope` and has no sweep value (NaN); without a sweep
    that row is the only one."""
    per_drop = _paired(frame, [SWEEP_COLUMN], "Proposed", "BA", "T_s")
    records = []
    if per_drop[SWEEP_COLUMN].notna().any():
        for value, part in per_drop.groupby(SWEEP_COLUMN, sort=False, dropna=False):
            records.append(("Proposed vs BA", POINT, float(value), *mean_interval(part["reduction"]),
                            PAPER_REDUCTION_VS_BA))
    overall = per_drop.groupby("drop")["reduction"].mean()
    records.append(("Proposed vs BA", WHOLE_SWEEP, math.nan, *mean_interval(overall), PAPER_REDUCTION_VS_BA))
    return pd.DataFrame(records, columns=["comparison", "scope", SWEEP_COLUMN, "mean", "std", "ci95_low",
                                          "ci95_high", "drops", "paper"])


def overall_reduction(reductions: pd.DataFrame) -> pd.Series:
    """The whole sweep's row of fedsllm_reductions."""
    return reductions[reductions["scope"] == WHOLE_SWEEP].iloc[0]


def card_reductions(frame: pd.DataFrame) -> pd.DataFrame:
    """CARD's delay against device-only and energy against server-only, per sweep point and channel state."""
    records = []
    for comparison, theirs, metric, paper in (("delay, CARD vs device-only", "device-only", "delay_s",
                                               PAPER_DELAY_REDUCTION),
                                              ("energy, CARD vs server-only", "server-only", "energy_j",
                                               PAPER_ENERGY_REDUCTION)):
        per_drop = _paired(frame, [SWEEP_COLUMN, "channel_state"], "CARD", theirs, metric)
        for (value, state), part in per_drop.groupby([SWEEP_COLUMN, "channel_state"], sort=False, dropna=False):
            records.append((comparison, value, state, *mean_interval(part["reduction"]), paper))
    return pd.DataFrame(records, columns=["comparison", SWEEP_COLUMN, "channel_state", "mean", "std", "ci95_low",
                                          "ci95_high", "drops", "paper"])


def failures_frame(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["drop", "seed", SWEEP_COLUMN, *(["channel_state"] if "channel_state" in frame else []), "strategy",
               "message"]
    return frame.loc[frame["status"] != "ok", columns].reset_index(drop=True)


def worst_gap(frame: pd.DataFrame) -> float:
    """The largest relative duality gap over the certified runs (FedsLLM's Proposed and FE)."""
    if "gap" not in frame:
        return math.nan
    gaps = frame.loc[(frame["status"] == "ok") & frame["gap"].notna(), "gap"]
    return float(gaps.max()) if len(gaps) else math.nan


# --- Tables of the report ----------------------------------------------------------------------

# The study tables' columns, by the frames' column names (a column not listed is shown with no unit).
COLUMNS = {column.name: column for column in (
    Column("T_s", "s", "total training delay T"),
    Column("delay_s", "s", "mean delay per device-round"),
    Column("energy_j", "J", "mean server energy per device-round"),
    Column("cost", "-", "mean normalised cost U"),
    Column("lower_bound_s", "s", "proven lower bound on T"),
    Column("gap", "-", "relative duality gap of the run"),
    Column("eta", "-", "local accuracy eta"),
    Column("seconds", "s", "wall time of the strategy on its worker"),
    Column("scope", "-", "sweep point, or whole sweep (each drop's mean over the sweep)"),
    Column("drop", "-", "drop number", format=ID),
    Column("seed", "-", "seed of the drop (seed + drop)", format=ID),
    Column("strategy", "-", "strategy or method"),
    Column("status", "-", "ok or failed"),
    Column("message", "-", "why a run failed"),
    Column("worker", "-", "the Dask worker that ran it"),
    Column("channel_state", "-", f"channel state ({', '.join(CHANNEL_STATES)})"),
    Column("pairs", "-", "device-rounds in range", format=ID),
    Column("out_of_range", "-", "device-rounds out of range", format=ID),
    Column("index", "-", "task number", format=ID),
    Column("metric", "-", "what is averaged"),
    Column("unit", "-", "its unit"),
    Column("mean", "-", "mean over the ok runs, in the metric's unit"),
    Column("std", "-", "sample standard deviation"),
    Column("ci95_low", "-", "95 % confidence interval, Student t"),
    Column("ci95_high", "-", "95 % confidence interval"),
    Column("runs_ok", "-", "runs averaged", format=ID),
    Column("runs_failed", "-", "runs that failed (not averaged)", format=ID),
    Column("comparison", "-", "what is compared"),
    Column("drops", "-", "drops averaged", format=ID),
    Column("paper", "-", "the paper's reported value"),
)}
# The reductions table holds fractions (1 - ours / theirs) in its statistics' columns.
REDUCTION_FORMATS = {name: PERCENT for name in ("mean", "std", "ci95_low", "ci95_high", "paper")}


def table_from_frame(name: str, frame: pd.DataFrame, axis: SweepAxis | None = None,
                     formats: dict[str, str] | None = None) -> ResultTable:
    """A study frame as a report table, its sweep column named after the swept quantity (named_sweep);
    `formats` override the columns' own (COLUMNS) number formats."""
    frame = named_sweep(frame, axis)
    columns = []
    for key in frame.columns:
        if axis is not None and key == axis.name:
            column = Column(key, axis.unit, f"the swept {axis.description}")
        else:
            column = COLUMNS.get(key, Column(key, "-", key))
        if formats and key in formats:
            column = replace(column, format=formats[key])
        columns.append(column)
    return ResultTable.of(name, columns, frame_rows(frame))


def frame_rows(frame: pd.DataFrame):
    """The frame's rows as plain Python values for a ResultTable: NaN as an empty cell, numpy scalars unboxed."""
    return ([None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)
             for v in record] for record in frame.itertuples(index=False, name=None))


def write_parquet(frame: pd.DataFrame, path: Path, axis: SweepAxis | None = None) -> Path:
    named_sweep(frame, axis).to_parquet(path, index=False)
    return path


# --- Figures with their intervals (drawn by reports/plots.py) -----------------------------------

def drops_text(part: pd.DataFrame) -> str:
    """How many drops the means of these summary rows rest on: "10", or "9 to 10" when some runs failed."""
    low, high = int(part["runs_ok"].min()), int(part["runs_ok"].max())
    return f"{high}" if low == high else f"{low} to {high}"


def plot_sweep_with_ci(summary: pd.DataFrame, metric: str, axis: SweepAxis, caption: str, path: Path,
                       users: int | None = None, fixed_eta: float | None = None):
    """Mean of `metric` against the swept quantity (in its shown unit), one line per strategy, its 95 % CI
    as a band; `fixed_eta`: FE's and BA's eta, for the legend."""
    part = summary[summary["metric"] == metric]
    x = sorted({axis.shown(v) for v in part[SWEEP_COLUMN]})
    means, bands = {}, {}
    for strategy, rows in part.groupby("strategy", sort=False):
        rows = rows.assign(x=rows[SWEEP_COLUMN].astype(float)).sort_values("x")
        means[strategy] = rows["mean"].tolist()
        bands[strategy] = (rows["ci95_low"].fillna(rows["mean"]).tolist(), rows["ci95_high"].fillna(rows["mean"]).tolist())
    return plot_fig2(x, means, path, users=users, bands=bands, x_label=axis.x_label, caption=caption,
                     fixed_eta=fixed_eta, drops=drops_text(part))


def _interval(row) -> tuple[float, float]:
    """A summary row's 95 % CI, the mean itself where there is none (a single run)."""
    mean = row["mean"]
    return (mean if math.isnan(row["ci95_low"]) else row["ci95_low"],
            mean if math.isnan(row["ci95_high"]) else row["ci95_high"])


def _at_sweep_value(summary: pd.DataFrame, sweep_value) -> pd.DataFrame:
    return summary[summary[SWEEP_COLUMN].astype(object).eq(sweep_value)] if sweep_value is not None else summary


def fig4_bars(summary: pd.DataFrame, sweep_value) -> tuple[dict, dict]:
    """Fig. 4's bars at one sweep point: (state, method) -> (delay, energy) means and their 95 % CIs."""
    part = _at_sweep_value(summary, sweep_value)
    rows = part.set_index(["channel_state", "strategy", "metric"])
    keys = list(dict.fromkeys(zip(part["channel_state"], part["strategy"])))
    means = {k: (rows.loc[(*k, "delay_s"), "mean"], rows.loc[(*k, "energy_j"), "mean"]) for k in keys}
    errors = {k: (_interval(rows.loc[(*k, "delay_s")]), _interval(rows.loc[(*k, "energy_j")])) for k in keys}
    return means, errors


def fig4_figures(summary: pd.DataFrame, axis: SweepAxis | None, w: float) -> dict[str, object]:
    """The study's Fig. 4s as {PNG stem: draw(path)}: `fig4` without a sweep, else one per sweep value
    (`fig4_w_0.2`), each labelled with its value and all on one scale, so that they compare."""
    values = list(dict.fromkeys(summary[SWEEP_COLUMN])) if axis is not None else [None]
    bars = {value: fig4_bars(summary, value) for value in values}
    tops = fig4_tops(*bars.values())

    def drawer(value):
        weight = float(value) if axis is not None and axis.name == "w" else w
        point = None if axis is None or axis.name == "w" else axis.label(value)
        means, errors = bars[value]
        return lambda path: plot_fig4(means, path, weight, errors, drops=drops_text(_at_sweep_value(summary, value)),
                                      tops=tops, point=point)

    if axis is None:
        return {"fig4": drawer(None)}
    return {f"fig4_{axis.name}_{float(value):g}": drawer(value) for value in values}


def plot_pareto_with_ci(summary: pd.DataFrame, path: Path):
    """CARD's (energy, delay) per w and channel state with their 95 % CIs."""
    card = summary[summary["strategy"] == "CARD"]
    indexed = card.set_index(["channel_state", SWEEP_COLUMN, "metric"])
    points = {}
    for state, value in dict.fromkeys(zip(summary["channel_state"], summary[SWEEP_COLUMN])):
        energy, delay = indexed.loc[(state, value, "energy_j")], indexed.loc[(state, value, "delay_s")]
        points.setdefault(state, []).append((float(value), energy["mean"], _interval(energy), delay["mean"],
                                             _interval(delay)))
    return plot_pareto(points, path, drops_text(card))
