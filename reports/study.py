"""Monte Carlo study reports: the tidy table of runs, means with Student-t confidence intervals, the
reductions against the benchmarks, and the figures with their intervals.

Reads the rows `solvers.study` returns (plain dicts, one per drop, sweep point and strategy); nothing here
imports `solvers/`. A run that failed is counted, never averaged: every mean says how many runs it covers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from reports.export import Column, ResultTable

CONFIDENCE = 0.95
PAPER_FEDSLLM_REDUCTION = 0.4763  # Proposed against BA, the paper's Fig. 2
PAPER_CARD_DELAY_REDUCTION = 0.708  # against device-only
PAPER_CARD_ENERGY_REDUCTION = 0.531  # against server-only


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
    return ["sweep_value", *(["channel_state"] if "channel_state" in frame else []), "strategy"]


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
    whole sweep (each drop's mean over the sweep points first, so the drops stay independent)."""
    per_drop = _paired(frame, ["sweep_value"], "Proposed", "BA", "T_s")
    records = []
    for value, part in per_drop.groupby("sweep_value", sort=False, dropna=False):
        records.append(("Proposed vs BA", value, *mean_interval(part["reduction"]), PAPER_FEDSLLM_REDUCTION))
    overall = per_drop.groupby("drop")["reduction"].mean()
    records.append(("Proposed vs BA", "all", *mean_interval(overall), PAPER_FEDSLLM_REDUCTION))
    return pd.DataFrame(records, columns=["comparison", "sweep_value", "mean", "std", "ci95_low", "ci95_high",
                                          "drops", "paper"])


def card_reductions(frame: pd.DataFrame) -> pd.DataFrame:
    """CARD's delay against device-only and energy against server-only, per sweep point and channel state."""
    records = []
    for comparison, theirs, metric, paper in (("delay, CARD vs device-only", "device-only", "delay_s",
                                               PAPER_CARD_DELAY_REDUCTION),
                                              ("energy, CARD vs server-only", "server-only", "energy_j",
                                               PAPER_CARD_ENERGY_REDUCTION)):
        per_drop = _paired(frame, ["sweep_value", "channel_state"], "CARD", theirs, metric)
        for (value, state), part in per_drop.groupby(["sweep_value", "channel_state"], sort=False, dropna=False):
            records.append((comparison, value, state, *mean_interval(part["reduction"]), paper))
    return pd.DataFrame(records, columns=["comparison", "sweep_value", "channel_state", "mean", "std", "ci95_low",
                                          "ci95_high", "drops", "paper"])


def failures_frame(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["drop", "seed", "sweep_value", *(["channel_state"] if "channel_state" in frame else []), "strategy",
               "message"]
    return frame.loc[frame["status"] != "ok", columns].reset_index(drop=True)


def worst_gap(frame: pd.DataFrame) -> float:
    """The largest relative duality gap over the certified runs (FedsLLM's Proposed and FE)."""
    if "gap" not in frame:
        return math.nan
    gaps = frame.loc[(frame["status"] == "ok") & frame["gap"].notna(), "gap"]
    return float(gaps.max()) if len(gaps) else math.nan


# --- Tables of the report ----------------------------------------------------------------------

UNITS = {"T_s": ("s", "total training delay T"), "delay_s": ("s", "mean delay per device-round"),
         "energy_j": ("J", "mean server energy per device-round"), "cost": ("-", "mean normalised cost U"),
         "lower_bound_s": ("s", "proven lower bound on T"), "gap": ("-", "relative duality gap of the run"),
         "eta": ("-", "local accuracy eta"), "seconds": ("s", "wall time of the strategy on its worker"),
         "sweep_value": ("-", "the swept quantity's value (see summary)"), "drop": ("-", "drop number"),
         "seed": ("-", "seed of the drop (seed + drop)"), "strategy": ("-", "strategy or method"),
         "status": ("-", "ok or failed"), "message": ("-", "why a run failed"),
         "worker": ("-", "the Dask worker that ran it"), "channel_state": ("-", "Good, Normal or Poor"),
         "pairs": ("-", "device-rounds in range"), "out_of_range": ("-", "device-rounds out of range"),
         "index": ("-", "task number"), "metric": ("-", "what is averaged"), "unit": ("-", "its unit"),
         "mean": ("-", "mean over the ok runs, in the metric's unit"), "std": ("-", "sample standard deviation"),
         "ci95_low": ("-", "95 % confidence interval, Student t"), "ci95_high": ("-", "95 % confidence interval"),
         "runs_ok": ("-", "runs averaged"), "runs_failed": ("-", "runs that failed (not averaged)"),
         "comparison": ("-", "what is compared"), "drops": ("-", "drops averaged"),
         "paper": ("-", "the paper's reported value")}


def table_from_frame(name: str, frame: pd.DataFrame, sweep_label: str | None = None) -> ResultTable:
    columns = []
    for column in frame.columns:
        unit, text = UNITS.get(column, ("-", column))
        if column == "sweep_value" and sweep_label:
            text = f"the swept {sweep_label}"
        columns.append(Column(column, unit, text))
    rows = ([None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)
             for v in record] for record in frame.itertuples(index=False, name=None))
    return ResultTable.of(name, columns, rows)


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


# --- Figures with their intervals ---------------------------------------------------------------

def _figure():
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


def plot_sweep_with_ci(summary: pd.DataFrame, metric: str, x_label: str, y_label: str, title: str,
                       path: Path) -> Path:
    """Mean of `metric` against the sweep value, one line per strategy, with its 95 % CI as a band."""
    plt = _figure()
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    part = summary[summary["metric"] == metric]
    for strategy, rows in part.groupby("strategy", sort=False):
        rows = rows.sort_values("sweep_value")
        x = rows["sweep_value"].astype(float)
        axes.plot(x, rows["mean"], marker="o", markersize=4, label=f"{strategy} (mean)")
        axes.fill_between(x, rows["ci95_low"], rows["ci95_high"], alpha=0.25)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, title="shaded: 95 % CI", title_fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_fig4_with_ci(summary: pd.DataFrame, sweep_value, path: Path) -> Path:
    """Fig. 4: bars of mean delay and server energy per channel state and method, 95 % CI as error bars."""
    plt = _figure()
    part = summary[summary["sweep_value"].astype(object).eq(sweep_value) if sweep_value is not None
                   else summary["sweep_value"].isna()]
    states = list(dict.fromkeys(part["channel_state"]))
    methods = list(dict.fromkeys(part["strategy"]))
    figure, axes_pair = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120)
    width = 0.8 / max(len(methods), 1)
    for axes, metric, label in zip(axes_pair, ("delay_s", "energy_j"),
                                   ("mean delay per device-round (s)", "mean server energy per device-round (J)")):
        rows = part[part["metric"] == metric].set_index(["channel_state", "strategy"])
        for index, method in enumerate(methods):
            means = [rows.loc[(s, method), "mean"] for s in states]
            low = [rows.loc[(s, method), "mean"] - rows.loc[(s, method), "ci95_low"] for s in states]
            high = [rows.loc[(s, method), "ci95_high"] - rows.loc[(s, method), "mean"] for s in states]
            axes.bar([x + index * width for x in range(len(states))], means, width, label=method,
                     yerr=[np.nan_to_num(low), np.nan_to_num(high)], capsize=3)
        axes.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(states))], states)
        axes.set_xlabel("channel state")
        axes.set_ylabel(label)
        axes.grid(True, axis="y", alpha=0.3)
    axes_pair[0].legend(fontsize=8, title="error bars: 95 % CI", title_fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_pareto(summary: pd.DataFrame, path: Path) -> Path:
    """CARD's delay-energy trade-off: one point per w (mean delay against mean server energy), per channel
    state, with 95 % CIs on both axes."""
    plt = _figure()
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    card = summary[summary["strategy"] == "CARD"]
    for state, rows in card.groupby("channel_state", sort=False):
        delay = rows[rows["metric"] == "delay_s"].sort_values("sweep_value")
        energy = rows[rows["metric"] == "energy_j"].sort_values("sweep_value")
        x, y = energy["mean"].to_numpy(), delay["mean"].to_numpy()
        axes.errorbar(x, y, xerr=[np.nan_to_num(x - energy["ci95_low"]), np.nan_to_num(energy["ci95_high"] - x)],
                      yerr=[np.nan_to_num(y - delay["ci95_low"]), np.nan_to_num(delay["ci95_high"] - y)],
                      marker="o", markersize=4, capsize=2, label=f"{state} channel")
        for w, xi, yi in zip(delay["sweep_value"], x, y):
            axes.annotate(f"w={float(w):g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axes.set_xlabel("mean server energy per device-round (J)")
    axes.set_ylabel("mean delay per device-round (s)")
    axes.set_title("CARD: delay against server energy as w goes from 0 to 1 (95 % CIs)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
