"""The paper's comparison strategies (Section IV) and the Fig. 2 power study.

- Proposed: bandwidth and eta optimised (the eta search over Problem (17)).
- EB: equal bandwidth B/K on both links, eta optimised.
- FE: eta fixed (0.1), bandwidth optimised (Problem (17) at that eta).
- BA: eta fixed (0.1) and equal bandwidth.
With bandwidth fixed, t = data / rate and T = max_k of (17a)'s left side, which
the Problem (17) model evaluates itself (`set_equal_split_start`), so all four
use one delay formula. Proposed is also solved at EB's eta and at the fixed eta,
which makes Proposed <= EB <= BA and Proposed <= FE <= BA hold by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo
from scipy.optimize import minimize_scalar

from data.fedsllm import FedsllmInputs
from models.fedsllm import build_problem17, set_equal_split_start
from solvers.fedsllm import EtaGrid, EtaSearch, EtaSearchResult
from solvers.ipopt import IpoptSolver
from solvers.progress import Progress

STRATEGIES = ("Proposed", "EB", "FE", "BA")


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    T: float
    eta: float


@dataclass(frozen=True)
class Comparison:
    results: dict[str, StrategyResult]
    search: EtaSearchResult
    model: pyo.ConcreteModel  # Problem (17) holding the Proposed optimum

    def reduction_vs_ba(self, strategy: str) -> float:
        """1 - T / T_BA: the share of BA's delay the strategy saves."""
        return 1.0 - self.results[strategy].T / self.results["BA"].T


class EqualBandwidth:
    """T of the equal split as a function of eta, on its own Problem (17) model."""

    def __init__(self, inputs: FedsllmInputs):
        self.model = build_problem17(inputs)

    def delay(self, eta: float) -> float:
        self.model.eta.set_value(eta)
        set_equal_split_start(self.model)
        return pyo.value(self.model.T)

    def best(self, grid: EtaGrid, fixed_eta: float, tolerance: float) -> StrategyResult:
        """EB: the grid (and the fixed eta), then a bounded search between the best point's neighbours."""
        etas = sorted(set(grid.points()) | {fixed_eta})
        delays = {eta: self.delay(eta) for eta in etas}
        best_eta = min(delays, key=delays.get)
        low, high = max(grid.low, best_eta - grid.step), min(grid.high, best_eta + grid.step)
        refined = minimize_scalar(self.delay, bounds=(low, high), method="bounded", options={"xatol": tolerance})
        if refined.fun < delays[best_eta]:
            return StrategyResult("EB", float(refined.fun), float(refined.x))
        return StrategyResult("EB", delays[best_eta], best_eta)


def compare_strategies(inputs: FedsllmInputs, grid: EtaGrid, solver: IpoptSolver, fixed_eta: float = 0.1,
                       refine_tolerance: float | None = 1e-6, progress: Progress | None = None) -> Comparison:
    equal = EqualBandwidth(inputs)
    eb = equal.best(grid, fixed_eta, refine_tolerance or 1e-6)
    ba = StrategyResult("BA", equal.delay(fixed_eta), fixed_eta)
    search = EtaSearch(inputs, solver, progress)
    result = search.run(grid, refine_tolerance, extra_etas=(eb.eta, fixed_eta))
    results = {
        "Proposed": StrategyResult("Proposed", result.best.T, result.best.eta),
        "EB": eb,
        "FE": StrategyResult("FE", search.delay_at(fixed_eta), fixed_eta),
        "BA": ba,
    }
    return Comparison(results, result, search.model)


def power_sweep(inputs: FedsllmInputs, powers_dbm: list[float], grid: EtaGrid, solver: IpoptSolver,
                fixed_eta: float = 0.1, refine_tolerance: float | None = 1e-6,
                progress: Progress | None = None) -> list[tuple[float, Comparison]]:
    """Every user's maximum power on both links set to each value in turn (Fig. 2)."""
    progress = progress or Progress.silent()
    progress.start("power sweep", len(powers_dbm), unit="powers")
    sweep = []
    for power in powers_dbm:
        comparison = compare_strategies(inputs.with_power_dbm(power), grid, solver, fixed_eta, refine_tolerance)
        progress.advance(f"{power:g} dBm: " + " ".join(f"{s}={comparison.results[s].T:.4g} s" for s in STRATEGIES))
        sweep.append((power, comparison))
    progress.finish()
    return sweep
