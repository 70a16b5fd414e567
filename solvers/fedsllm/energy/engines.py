"""The engines that solve Problem (E) at one eta (or one eta interval's relaxation) for the search.

- `EnergyStructured` (engine `structured`, the default for (E)): solvers.fedsllm.energy.structured, with a
  proven lower bound (weak duality) beside every allocation.
- `EnergyIpopt` (engine `ipopt`): Ipopt on the Pyomo model in its convex log form, warm-started from the
  last optimum with its multipliers; it also re-solves the final point for the KKT certificate.

Both answer T_max = T*(eta) with the delay optimum, the only feasible point there (its energy is E*(eta)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm_energy import build_problem_e, fix_equal_split, relaxed_rounds_and_log2, set_eta, \
    set_relaxation, set_start
from solvers.fedsllm.energy.scenario import EnergyAllocation, EnergyScenario, allocation_with_energy, \
    energy_at_maxima
from solvers.fedsllm.energy.structured import dual_bound_at, solve_energy_structured
from solvers.runtime.ipopt import IpoptSolver, SolveRecord, log as solve_log

# T_max within this of T*(eta), relative: the delay optimum is the only feasible point (the feasible set
# has no interior, where an interior-point method cannot work); its energy is E*(eta).
ONLY_POINT_MARGIN = 1e-9


def below_least_delay(max_delay_s: float, least_delay_s: float) -> bool:
    """Whether T_max is below the least delay T* by more than ONLY_POINT_MARGIN: nothing trains within it."""
    return max_delay_s < least_delay_s * (1 - ONLY_POINT_MARGIN)


@dataclass(frozen=True)
class EnergyAnswer:
    record: SolveRecord
    allocation: EnergyAllocation | None  # None unless optimal
    lower_bound_j: float = math.nan  # a proven lower bound on E*(eta) (structured engine)


class EnergyEngine:
    """What both engines share: the scenario, the delay limit, T*(eta) (`oracle`), the only-point case."""

    name = solver_name = ""

    def __init__(self, inputs: FedsllmInputs, max_delay_s: float, oracle):
        self.scenario = EnergyScenario.from_inputs(inputs)
        self.max_delay_s = max_delay_s
        self.oracle = oracle

    def only_point(self, eta: float) -> EnergyAllocation:
        """The delay optimum at eta with clocks and powers at their maxima (T_max = T*(eta))."""
        split = self.scenario.split
        main, fed, b_main, b_fed = self.oracle.at(eta)[1]
        return allocation_with_energy(self.scenario, eta, self.max_delay_s, split.client_cpu_hz, split.server_cpu_hz,
                                      main, fed, b_main, b_fed)

    def solve(self, eta: float, label: str) -> EnergyAnswer:
        """(E) at eta: the only feasible point when T_max is T*(eta) (to ONLY_POINT_MARGIN), else the engine."""
        if self.max_delay_s <= self.oracle.delay(eta) * (1 + ONLY_POINT_MARGIN):
            allocation = self.only_point(eta)
            return EnergyAnswer(SolveRecord(True, "optimal", "T_max = T*(eta): the delay optimum is the only "
                                                             "feasible point", 0, 0.0), allocation, allocation.energy_j)
        return self.solve_at(eta, label)

    def solve_at(self, eta: float, label: str) -> EnergyAnswer:
        raise NotImplementedError

    def solve_relaxed(self, low: float, high: float, label: str) -> tuple[SolveRecord, float]:
        """The relaxation on [low, high] (models.fedsllm_energy.relaxed_rounds_and_log2): its record and a
        lower bound on E* over the interval (-inf when there is none)."""
        raise NotImplementedError


class EnergyStructured(EnergyEngine):
    """solvers.fedsllm.energy.structured, warm-started from the last solve (a failed warm start is retried cold)."""

    name = "structured"
    solver_name = "the structured engine"

    def __init__(self, inputs: FedsllmInputs, max_delay_s: float, oracle, gap: float):
        super().__init__(inputs, max_delay_s, oracle)
        self.gap = gap
        self._state = None  # the last optimal solve's multipliers and decisions (warm start, dual bounds)
        self.last_rounds = math.nan

    def dual_bound(self, theta1: float, theta2: float) -> float:
        """The dual function at theta with the last optimal solve's multipliers (a proven lower bound)."""
        return dual_bound_at(self.scenario, self._state, self.last_rounds, theta1, theta2, self.max_delay_s,
                             self.oracle.equal_split)

    def _solve(self, rounds: float, log2_inverse: float, eta: float, label: str):
        point, state = solve_energy_structured(self.scenario, rounds, log2_inverse, self.max_delay_s, eta,
                                               self.oracle.equal_split, self._state, self.gap)
        if state is not None and point.status == "optimal":
            self._state, self.last_rounds = state, rounds
        message = (f"E in [{point.lower_j:.12g}, {point.upper_j:.12g}] J, relative gap {point.gap:.2e} (target "
                   f"{self.gap:g}); {point.iterations} outer steps")
        record = SolveRecord(point.status == "optimal", point.status, message, point.iterations, point.seconds)
        solve_log.info("structured %s: %s, %s", label, point.status, message)
        return record, point

    def solve_at(self, eta: float, label: str) -> EnergyAnswer:
        record, point = self._solve(*relaxed_rounds_and_log2(self.scenario.split.a, eta, eta), eta, label)
        return EnergyAnswer(record, point.allocation if record.optimal else None, point.lower_j)

    def solve_relaxed(self, low: float, high: float, label: str) -> tuple[SolveRecord, float]:
        """Any multipliers give a valid bound (weak duality), so the bound holds even short of the gap."""
        record, point = self._solve(*relaxed_rounds_and_log2(self.scenario.split.a, low, high), high, label)
        if point.status == "infeasible":
            return record, math.inf
        return record, point.lower_j if math.isfinite(point.lower_j) else -math.inf


class EnergyIpopt(EnergyEngine):
    """Ipopt on the Pyomo model (log form); the objective is scaled by the last energy found, so Ipopt's
    tolerance is relative to the optimum's size."""

    name = "ipopt"
    solver_name = "Ipopt"

    def __init__(self, inputs: FedsllmInputs, max_delay_s: float, oracle, solver: IpoptSolver):
        super().__init__(inputs, max_delay_s, oracle)
        self.solver = solver
        self.model = build_problem_e(inputs, 0.5, max_delay_s)
        if oracle.equal_split:
            fix_equal_split(self.model)
        self._warm = False

    def start_from(self, allocation: EnergyAllocation) -> None:
        """Start the next solve cold from `allocation` (the structured engine's, for the final re-solve)."""
        set_start(self.model, allocation.client_cpu_hz / 1e9, allocation.server_cpu_hz / 1e9, allocation.time_main_s,
                  allocation.time_fed_s, allocation.bandwidth_main_hz / 1e6, allocation.bandwidth_fed_hz / 1e6)
        self.model.dual.clear()
        self.model.energy_scale.set_value(allocation.energy_j)
        self._warm = False

    def _cold_start(self, eta: float) -> None:
        split = self.scenario.split
        main, fed, b_main, b_fed = self.oracle.at(eta)[1]
        set_start(self.model, split.client_cpu_hz / 1e9, split.server_cpu_hz / 1e9, main, fed, b_main / 1e6,
                  b_fed / 1e6)
        self.model.dual.clear()
        self.model.energy_scale.set_value(energy_at_maxima(self.scenario, eta, main, fed).total_j)

    def _solve_model(self, label: str, cold_eta: float, from_start: bool = False) -> SolveRecord:
        """Warm from the last optimum (or, `from_start`, cold from the point start_from set); a failure is
        retried cold from the delay optimum at `cold_eta`."""
        record = None
        if from_start:
            record = self.solver.solve(self.model, warm=False, label=f"{label}, from the structured point")
        elif self._warm:
            record = self.solver.solve(self.model, warm=True, label=label)
        if record is None or not record.optimal:
            self._cold_start(cold_eta)
            record = self.solver.solve(self.model, warm=False, label=f"{label}, cold")
        if record.optimal:
            energy = pyo.value(self.model.eqE5_total_energy)
            if abs(math.log10(energy / pyo.value(self.model.energy_scale))) > 1:  # re-scaled: re-solve warm
                self.model.energy_scale.set_value(energy)
                record = self.solver.solve(self.model, warm=True, label=f"{label}, re-scaled")
        self._warm = record.optimal
        return record

    def solve_at(self, eta: float, label: str, from_start: bool = False) -> EnergyAnswer:
        set_eta(self.model, eta)
        record = self._solve_model(label, eta, from_start)
        return EnergyAnswer(record, self.allocation(eta) if record.optimal else None)

    def solve_relaxed(self, low: float, high: float, label: str) -> tuple[SolveRecord, float]:
        set_relaxation(self.model, low, high)
        record = self._solve_model(label, high)
        return record, pyo.value(self.model.eqE5_total_energy) if record.optimal else -math.inf

    def allocation(self, eta: float) -> EnergyAllocation:
        """The model's current point, in SI units, its energy recomputed in numpy."""
        m = self.model

        def values(component, scale: float) -> np.ndarray:
            return np.array([pyo.value(component[k]) * scale for k in m.users])

        return allocation_with_energy(self.scenario, eta, self.max_delay_s, values(m.client_cpu, 1e9),
                                      pyo.value(m.server_cpu) * 1e9, values(m.time_main, 1.0),
                                      values(m.time_fed, 1.0), values(m.bandwidth_main, 1e6),
                                      values(m.bandwidth_fed, 1e6))
