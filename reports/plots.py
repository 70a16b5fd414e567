"""PNG figures of the reports (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def _save(figure, all_axes, path: Path) -> Path:
    """Grid, legend, tight layout; write the PNG and free the figure."""
    for axes in all_axes:
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_eta_sweep(etas, delays, best_eta: float, best_delay: float, path: Path, envelope=()) -> Path:
    """T*(eta) over the grid and refinement, with the optimum marked; `envelope`: the global search's
    intervals (`low`, `high`, `lower_bound`), drawn as the lower bound it proved on each."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    axes.plot(etas, delays, "-", color="tab:blue", linewidth=1.5, label="T*(eta), Problem (17)")
    shown = [i for i in envelope if i.lower_bound <= 10 * max(delays) and i.high > i.low]
    if shown:
        axes.hlines([i.lower_bound for i in shown], [i.low for i in shown], [i.high for i in shown],
                    colors="tab:green", linewidth=1.0, label="proven lower bound on each eta interval")
    axes.plot([best_eta], [best_delay], "*", color="tab:red", markersize=14,
              label=f"optimum: eta* = {best_eta:.4f}, T* = {best_delay:.4g} s")
    axes.set_yscale("log")
    axes.set_xlabel("local accuracy eta (-)")
    axes.set_ylabel("total training delay T (s)")
    axes.set_title("FedsLLM: optimal delay against local accuracy")
    return _save(figure, [axes], path)


def plot_fig2(powers, delays_by_strategy: dict[str, list[float]], path: Path) -> Path:
    """Latency against maximum transmit power, one line per strategy (the paper's Fig. 2)."""
    markers = {"Proposed": "o", "EB": "s", "FE": "^", "BA": "D"}
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy, delays in delays_by_strategy.items():
        axes.plot(powers, delays, marker=markers.get(strategy, "."), label=strategy)
    axes.set_xlabel("maximum transmit power (dBm)")
    axes.set_ylabel("total training delay T (s)")
    axes.set_yscale("log")
    axes.set_title("FedsLLM: latency against maximum transmit power")
    return _save(figure, [axes], path)


DEVICE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot_fig3(result, path: Path) -> Path:
    """Cut layer and server clock per round, a line per device (the paper's Fig. 3). Devices often share a
    cut (0 or I), so each device's cut line is drawn slightly offset, with its own marker, and the legend sits
    below the axes, outside the data; rounds get integer ticks."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    figure, (cut_axes, clock_axes) = plt.subplots(1, 2, figsize=(11, 4.6), dpi=120)
    devices = list(dict.fromkeys(d.device for d in result.card))
    last_cut = max((pair.last_cut for pair in result.pairs), default=1)
    spread = 0.025 * last_cut  # vertical offset between devices on the cut axis
    for index, device in enumerate(devices):
        mine = [d for d in result.card if d.device == device]
        rounds = [d.round for d in mine]
        offset = (index - (len(devices) - 1) / 2) * spread
        marker = DEVICE_MARKERS[index % len(DEVICE_MARKERS)]
        cut_axes.plot(rounds, [d.cut + offset for d in mine], marker=marker, markersize=4, linewidth=1,
                      label=f"device {device}")
        clock_axes.plot(rounds, [d.clock_ghz for d in mine], marker=marker, markersize=4, linewidth=1,
                        label=f"device {device}")
    for axes in (cut_axes, clock_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("training round")
        axes.grid(True, alpha=0.3)
    cut_axes.set_ylabel("cut layer c (devices offset slightly to be told apart)")
    cut_axes.set_title(f"(a) optimal cut layer, {result.state} channel")
    clock_axes.set_ylabel("server GPU clock (GHz)")
    clock_axes.set_title(f"(b) server GPU clock, {result.state} channel")
    handles, labels = cut_axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(devices), 6), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_fig4(benchmarks, path: Path) -> Path:
    """Grouped bars: delay and server energy per round by method and channel state (the paper's Fig. 4).
    `benchmarks` maps (state, method) to (delay_s, energy_j)."""
    states = list(dict.fromkeys(state for state, _ in benchmarks))
    methods = list(dict.fromkeys(method for _, method in benchmarks))
    figure, axes_pair = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120)
    width = 0.8 / len(methods)
    positions = range(len(states))
    for column, (axes, label, unit) in enumerate(zip(axes_pair, ("training delay per round", "server energy per round"),
                                                     ("s", "J"))):
        for index, method in enumerate(methods):
            values = [benchmarks[state, method][column] for state in states]
            axes.bar([x + index * width for x in positions], values, width, label=method)
        axes.set_xticks([x + width * (len(methods) - 1) / 2 for x in positions], states)
        axes.set_xlabel("channel state")
        axes.set_ylabel(f"{label} ({unit})")
        axes.set_yscale("log")
    return _save(figure, axes_pair, path)
