"""The paper's comparison strategies (Section IV) and the Fig. 2 power study.

- Proposed: bandwidth and eta optimised (the eta search over Problem (17)).
- EB: equal bandwidth B/K on both links, eta optimised.
- FE: eta fixed (0.1), bandwidth optimised (Problem (17) at that eta).
- BA: eta fixed (0.1) and equal bandwidth.
With bandwidth fixed, t = data / rate and T = max_k of (17a)'s left side
(`SplitScenario.equal_split_delay_s`, in numpy, so it costs nothing at any K). Proposed is also solved at EB's eta and at the fixed eta,
which makes Proposed <= EB <= BA and Proposed <= FE <= BA hold by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.fedsllm.inputs import FedsllmInputs
from data.papers import FEDSLLM_STRATEGIES
from solvers.fedsllm.search import EngineSettings, EtaGrid, EtaSearch, EtaSearchResult, refine_between_neighbours
from solvers.runtime.ipopt import IpoptSolver
from solvers.runtime.progress import Progress
from solvers.fedsllm.scenario import SplitScenario



@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    T: float
    eta: float


@dataclass(frozen=True)
class Comparison:
    results: dict[str, StrategyResult]
    search: EtaSearchResult

    def reduction_vs_ba(self, strategy: str) -> float:
        """1 - T / T_BA: the share of BA's delay the strategy saves."""
        return 1.0 - self.results[strategy].T / self.results["BA"].T


class EqualBandwidth:
    """T of the equal split as a function of eta."""

    def __init__(self, scenario: SplitScenario):
        self.scenario = scenario

    def delay(self, eta: float) -> float:
        return self.scenario.equal_split_delay_s(float(eta))

    def best(self, grid: EtaGrid, fixed_eta: float, tolerance: float) -> StrategyResult:
        """EB: the grid (and the fixed eta), then a bounded search between the best point's neighbours."""
        etas = sorted(set(grid.points()) | {fixed_eta})
        delays = {eta: self.delay(eta) for eta in etas}
        best_eta = min(delays, key=delays.get)
        refined = refine_between_neighbours(self.delay, grid, best_eta, tolerance)
        if refined is not None and refined.fun < delays[best_eta]:
            return StrategyResult("EB", float(refined.fun), float(refined.x))
        return StrategyResult("EB", delays[best_eta], best_eta)


@dataclass
class StrategyModels:
    """The models the four strategies run on: Problem (17) with its eta search, and the equal split."""

    search: EtaSearch
    equal: EqualBandwidth


def build_strategy_models(inputs: FedsllmInputs, solver: IpoptSolver, progress: Progress | None = None,
                          engine: EngineSettings | None = None) -> StrategyModels:
    return StrategyModels(EtaSearch(inputs, solver, progress, engine), EqualBandwidth(SplitScenario.from_inputs(inputs)))


def compare_strategies(models: StrategyModels, grid: EtaGrid, fixed_eta: float = 0.1,
                       refine_tolerance: float | None = 1e-6) -> Comparison:
    """The four strategies; `models.search.model` is left holding the Proposed optimum."""
    eb = models.equal.best(grid, fixed_eta, refine_tolerance or 1e-6)
    ba = StrategyResult("BA", models.equal.delay(fixed_eta), fixed_eta)
    result = models.search.run(grid, refine_tolerance, extra_etas=(eb.eta, fixed_eta))
    results = {
        "Proposed": StrategyResult("Proposed", result.best.T, result.best.eta),
        "EB": eb,
        "FE": StrategyResult("FE", models.search.solved_delay(fixed_eta), fixed_eta),
        "BA": ba,
    }
    return Comparison(results, result)


def power_sweep(inputs: FedsllmInputs, powers_dbm: list[float], grid: EtaGrid, solver: IpoptSolver,
                fixed_eta: float = 0.1, refine_tolerance: float | None = 1e-6,
                progress: Progress | None = None, engine: EngineSettings | None = None
                ) -> list[tuple[float, Comparison]]:
    """Every user's maximum power on both links set to each value in turn (Fig. 2)."""
    progress = progress or Progress.silent()
    progress.start("power sweep", len(powers_dbm), unit="powers")
    sweep = []
    for power in powers_dbm:
        models = build_strategy_models(inputs.with_power_dbm(power), solver, engine=engine)
        comparison = compare_strategies(models, grid, fixed_eta, refine_tolerance)
        progress.advance(f"{power:g} dBm: " + " ".join(f"{s}={comparison.results[s].T:.4g} s"
                                                      for s in FEDSLLM_STRATEGIES))
        sweep.append((power, comparison))
    progress.finish()
    return sweep
