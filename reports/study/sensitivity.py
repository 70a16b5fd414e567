"""Sensitivity study reports: the tidy table of sample points, the indices with their confidence intervals
ranked per output, the console's three strongest factors per headline, and the paper-style figure
(Morris: mu* against sigma; Sobol: S1 and ST bars with their intervals).

Reads the rows and index rows the study returns (plain dicts); nothing here imports `solvers/`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from reports.export import ID, PERCENT, Column, ResultTable
from reports.study import frame_rows
from reports.style import (
    DOUBLE_COLUMN_IN, FONT_PT, MARKERS, legend_below, paper_style, plain_ticks, save, state_setting,
)

MORRIS_COLUMNS = ("mu_star", "mu_star_conf", "sigma", "mu")
SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
INDEX_COLUMNS = {column.name: column for column in (
    Column("output", "-", "the output the indices are of"),
    Column("unit", "-", "its unit (mu*, sigma and mu are in it: the change over one Morris step of the range)"),
    Column("rank", "-", "1 = the factor that moves this output most (largest mu*, or largest ST)", format=ID),
    Column("parameter", "-", "the factor"),
    Column("mu_star", "-", "Morris mu*: mean absolute elementary effect, in the output's unit"),
    Column("mu_star_conf", "-", "half-width of mu*'s 95 % bootstrap confidence interval"),
    Column("sigma", "-", "Morris sigma: standard deviation of the elementary effects (interactions, curvature)"),
    Column("mu", "-", "Morris mu: mean signed elementary effect"),
    Column("S1", "-", "Sobol first-order index: the share of the output's variance due to the factor alone"),
    Column("S1_conf", "-", "half-width of S1's 95 % bootstrap confidence interval"),
    Column("ST", "-", "Sobol total index: the share with every interaction of the factor"),
    Column("ST_conf", "-", "half-width of ST's 95 % bootstrap confidence interval"),
    Column("groups", "-", "trajectories (Morris) or base samples (Sobol) the indices rest on", format=ID),
    Column("groups_total", "-", "trajectories or base samples sampled", format=ID),
    Column("points", "-", "sample points the indices rest on", format=ID),
)}
POINT_COLUMNS = {column.name: column for column in (
    Column("point", "-", "sample point, in SALib's order", format=ID),
    Column("group", "-", "its Morris trajectory or Sobol base sample", format=ID),
    Column("T_s", "s", "T*: the least training delay (Proposed)"),
    Column("eta", "-", "eta*: its local accuracy"),
    Column("reduction_vs_BA", "-", "1 - T* / T_BA at the fixed eta", format=PERCENT),
    Column("E_J", "J", "E*: the least energy of a training under T_max (Problem (E), Proposed; objective=energy)"),
    Column("status", "-", "ok or failed"),
    Column("message", "-", "why a point failed"),
    Column("seconds", "s", "wall time of the point on its worker"),
    Column("worker", "-", "the Dask worker that ran it"),
)}
OUTPUT_DESCRIPTIONS = {"delay_s": ("mean delay per device-round (CARD)", None),
                       "energy_j": ("mean server energy per device-round (CARD)", None),
                       "delay_reduction": ("1 - CARD's delay / device-only's", PERCENT),
                       "energy_reduction": ("1 - CARD's server energy / server-only's", PERCENT)}


def _table(name: str, frame: pd.DataFrame, columns: dict[str, Column]) -> ResultTable:
    return ResultTable.of(name, [columns.get(k, Column(k, "-", k)) for k in frame.columns], frame_rows(frame))


def point_columns(factors: list[tuple[str, str, str]], outputs: dict[str, str]) -> dict[str, Column]:
    """The points table's columns: each factor (name, unit, description) and output with its unit."""
    columns = dict(POINT_COLUMNS)
    for name, unit, description in factors:
        columns[name] = Column(name, unit, description)
    for output, unit in outputs.items():
        if output not in columns:
            stem, _, state = output.rpartition("_")
            description, style = OUTPUT_DESCRIPTIONS.get(stem, (output, None))
            columns[output] = Column(output, unit, f"{description}, {state} channel",
                                     **({"format": style} if style else {}))
    return columns


def points_table(frame: pd.DataFrame, factors, outputs: dict[str, str]) -> ResultTable:
    return _table("points", frame, point_columns(factors, outputs))


def indices_frame(rows: list[dict], method: str) -> pd.DataFrame:
    keys = MORRIS_COLUMNS if method == "morris" else SOBOL_COLUMNS
    order = ["output", "unit", "rank", "parameter", *keys, "groups", "groups_total", "points"]
    return pd.DataFrame(rows)[order]


def indices_table(frame: pd.DataFrame) -> ResultTable:
    return _table("indices", frame, INDEX_COLUMNS)


def _shown(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}" + ("" if unit == "-" else f" {unit}")


def top_factor_lines(indices: pd.DataFrame, method: str, count: int = 3) -> list[str]:
    """Per output, the `count` factors that move it most, with the index they rank by."""
    key, conf = ("mu_star", "mu_star_conf") if method == "morris" else ("ST", "ST_conf")
    symbol = "mu*" if method == "morris" else "ST"
    lines = []
    for output, part in indices.groupby("output", sort=False):
        part = part.sort_values("rank").head(count)
        unit = part["unit"].iloc[0] if method == "morris" else "-"
        rests = part.iloc[0]
        items = [f"{row.parameter} ({symbol} {_shown(getattr(row, key), unit)} +- {_shown(getattr(row, conf), unit)})"
                 for row in part.itertuples()]
        lines.append(f"  {output}: " + ", ".join(items) + f"  [{rests['groups']} of {rests['groups_total']} "
                     f"{'trajectories' if method == 'morris' else 'base samples'}]")
    return lines


def plot_indices(indices: pd.DataFrame, method: str, setting: str, path: Path, panels: int = 4):
    """Morris: mu* against sigma per output, each factor a labelled marker with mu*'s interval; Sobol: S1 and
    ST bars per factor with their intervals. One panel per output, `panels` across."""
    outputs = list(dict.fromkeys(indices["output"]))
    rows = math.ceil(len(outputs) / panels)
    columns = min(panels, len(outputs))
    import matplotlib.pyplot as plt  # noqa: PLC0415 (figures only)
    with paper_style():
        figure, grid = plt.subplots(rows, columns, figsize=(DOUBLE_COLUMN_IN, 0.4 + 2.0 * rows), squeeze=False,
                                    layout="constrained")
        axes_list = list(grid.ravel())
        for axes in axes_list[len(outputs):]:
            axes.set_visible(False)
        factors = list(dict.fromkeys(indices["parameter"]))
        for axes, output in zip(axes_list, outputs):
            part = indices[indices["output"] == output].set_index("parameter").loc[factors]
            unit = part["unit"].iloc[0]
            if method == "morris":
                _morris_panel(axes, part, factors, unit)
            else:
                _sobol_panel(axes, part, factors)
            axes.set_title(panel_title(output), fontsize=FONT_PT)
        state_setting(figure, setting)
        legend_below(figure, axes_list[:1], columns=4)
        return save(figure, axes_list[:len(outputs)], path, setting)


TITLE_CHARACTERS = 16  # a longer output name breaks before its last part (a panel of four across holds ~18)


def panel_title(output: str) -> str:
    """The output's column name, broken before its last part when long (CARD's "..._normal")."""
    if len(output) <= TITLE_CHARACTERS or "_" not in output:
        return output
    head, tail = output.rsplit("_", 1)
    return f"{head}\n{tail}"


def _morris_panel(axes, part: pd.DataFrame, factors: list[str], unit: str) -> None:
    for index, factor in enumerate(factors):
        row = part.loc[factor]
        axes.errorbar([row["mu_star"]], [row["sigma"]], xerr=[[row["mu_star_conf"]], [row["mu_star_conf"]]],
                      marker=MARKERS[index % len(MARKERS)], markersize=4, linestyle="none", capsize=1.5,
                      elinewidth=0.6, label=factor)
    top = float(np.nanmax(np.r_[part["mu_star"] + part["mu_star_conf"], part["sigma"], 0.0])) or 1.0
    axes.plot([0, top], [0, top], color="0.6", linewidth=0.6, linestyle=":")  # sigma = mu*: as much spread as effect
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    shown = "" if unit == "-" else f" ({unit})"
    axes.set_xlabel(f"$\\mu^*${shown}")
    axes.set_ylabel(f"$\\sigma${shown}")
    plain_ticks(axes, "x")
    plain_ticks(axes, "y")


def _sobol_panel(axes, part: pd.DataFrame, factors: list[str]) -> None:
    positions = np.arange(len(factors))
    width = 0.38
    axes.bar(positions - width / 2, part["S1"], width, yerr=part["S1_conf"], capsize=1.5, label="$S_1$ (first order)",
             color="0.35", error_kw={"elinewidth": 0.6})
    axes.bar(positions + width / 2, part["ST"], width, yerr=part["ST_conf"], capsize=1.5, label="$S_T$ (total)",
             color="0.75", error_kw={"elinewidth": 0.6})
    axes.set_xticks(positions, factors, rotation=60, ha="right")
    axes.set_ylabel("share of variance")
    axes.axhline(0, color="0.3", linewidth=0.5)
