"""PNG figures of the reports (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def plot_eta_sweep(etas, delays, best_eta: float, best_delay: float, path: Path) -> Path:
    """T*(eta) over the grid and refinement, with the optimum marked."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    axes.plot(etas, delays, "-", color="tab:blue", linewidth=1.5, label="T*(eta), Problem (17)")
    axes.plot([best_eta], [best_delay], "*", color="tab:red", markersize=14,
              label=f"optimum: eta* = {best_eta:.4f}, T* = {best_delay:.4g} s")
    axes.set_yscale("log")
    axes.set_xlabel("local accuracy eta (-)")
    axes.set_ylabel("total training delay T (s)")
    axes.set_title("FedsLLM: optimal delay against local accuracy")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


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
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
