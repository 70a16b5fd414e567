"""The engines that solve FedsLLM Problem (17) at one eta for the eta search (solvers/fedsllm/search.py).

- `PersistentIpopt` (engine `ipopt`): Ipopt through cyipopt on an NLP that PyNumero builds once per
  scenario. eta is a variable held by equal bounds (models.fedsllm.build_problem17(eta_as_variable=True));
  a new eta moves those bounds in the NLP's own arrays, so no NL file is written again. Each solve
  starts from the previous point with its multipliers (a true warm start).
- `ModelIpopt`: Ipopt on the Pyomo model with eta a mutable Param, writing the NL file at every solve
  (the project's first path; it solves the final point that the Lemma 3/KKT certificate reads, and the
  tests and bench compare the persistent path against it).
- `Structured` (engine `structured`): solvers.fedsllm.structured's solver, with its upper and lower bounds,
  on the compiled kernel (solvers.fedsllm.batched.solve_structured_compiled).

Each returns an `EngineSolve`: the solve record, T, the allocation in model units (MHz, s) and a lower
bound on T*(eta) where the engine has one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP
from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm import build_problem17, set_equal_split_start, set_smallest_feasible_delay
from models.fedsllm_values import values_of
from solvers.runtime.ipopt import IpoptSolver, SolveRecord, log as ipopt_log, warm_then_cold
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.structured import StructuredPoint

MHZ = 1e6


@dataclass(frozen=True)
class Allocation:
    """Problem (17)'s solution at one eta, in model units (MHz, s)."""

    eta: float
    T: float
    bandwidth_main_mhz: np.ndarray
    bandwidth_fed_mhz: np.ndarray
    time_main_s: np.ndarray
    time_fed_s: np.ndarray

    @classmethod
    def from_model(cls, model: pyo.ConcreteModel) -> "Allocation":
        return cls(pyo.value(model.eta), pyo.value(model.T), values_of(model.bandwidth_main),
                   values_of(model.bandwidth_fed), values_of(model.time_main), values_of(model.time_fed))

    @classmethod
    def from_structured(cls, point: StructuredPoint) -> "Allocation":
        return cls(point.eta, point.T, point.bandwidth_main_hz / MHZ, point.bandwidth_fed_hz / MHZ,
                   point.time_main_s, point.time_fed_s)

    def load_into(self, model: pyo.ConcreteModel) -> None:
        """Use this allocation as the starting point (T is recomputed for the model's eta)."""
        users = list(model.users.ordered_data())
        for var, values in ((model.bandwidth_main, self.bandwidth_main_mhz), (model.bandwidth_fed, self.bandwidth_fed_mhz),
                            (model.time_main, self.time_main_s), (model.time_fed, self.time_fed_s)):
            var.set_values(dict(zip(users, np.asarray(values, dtype=float).tolist())))
        set_smallest_feasible_delay(model)


@dataclass(frozen=True)
class EngineSolve:
    record: SolveRecord
    T: float  # nan unless optimal
    allocation: Allocation | None  # None unless optimal
    lower_bound: float = math.nan  # a proven lower bound on T*(eta) (structured engine)


def _warm_then_cold(start: Allocation | None, attempt) -> SolveRecord:
    """The retry (warm from `start`, then cold); the record counts the iterations of both."""
    records = warm_then_cold(attempt, start is not None)
    return replace(records[-1], iterations=sum(record.iterations for record in records))


class ModelIpopt:
    """Ipopt on the Pyomo model (eta a mutable Param; the NL file is written at every solve)."""

    name = "ipopt (NL file per solve)"
    solver_name = "Ipopt"  # as failure messages name it

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, model: pyo.ConcreteModel | None = None):
        self.model = model if model is not None else build_problem17(inputs)
        self.solver = solver
        self.nlp = None  # the PyomoNLP of the last solve, for the certificate's derivatives

    def solve(self, eta: float, start: Allocation | None, label: str) -> EngineSolve:
        """From `start` (None: the equal split, cold); a warm start that fails is retried once cold."""
        self.model.eta.set_value(eta)

        def attempt(warm: bool) -> SolveRecord:
            if warm:
                start.load_into(self.model)
                record, self.nlp = self.solver.solve_holding_nlp(self.model, warm=True, label=label)
                return record
            set_equal_split_start(self.model)
            self.model.dual.clear()
            record, self.nlp = self.solver.solve_holding_nlp(self.model, warm=False, label=f"{label}, cold")
            return record

        record = _warm_then_cold(start, attempt)
        if not record.optimal:
            return EngineSolve(record, math.nan, None)
        return EngineSolve(record, pyo.value(self.model.T), Allocation.from_model(self.model))


class _NlpAtEta(CyIpoptNLP):
    """PyNumero's cyipopt problem with eta's bounds moved: PyomoNLP's bound arrays are read-only, so the
    bounds Ipopt receives are copies with eta's entry set."""

    def __init__(self, nlp: PyomoNLP, eta_index: int, eta: float, intermediate_callback):
        self._lower = nlp.primals_lb().copy()
        self._upper = nlp.primals_ub().copy()
        self._lower[eta_index] = self._upper[eta_index] = eta
        super().__init__(nlp, intermediate_callback=intermediate_callback)

    def x_lb(self):
        return self._lower

    def x_ub(self):
        return self._upper


class PersistentIpopt:
    """Ipopt on one PyNumero NLP for every eta (see the module docstring)."""

    name = "ipopt"
    solver_name = "Ipopt"

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver):
        self.solver = solver
        self.scenario = SplitScenario.from_inputs(inputs)
        model = build_problem17(inputs, eta_as_variable=True)
        self.nlp = PyomoNLP(model)
        self._index = {
            "eta": self.nlp.get_primal_indices([model.eta])[0],
            "T": self.nlp.get_primal_indices([model.T])[0],
            "bandwidth_main": np.array(self.nlp.get_primal_indices(list(model.bandwidth_main.values()))),
            "bandwidth_fed": np.array(self.nlp.get_primal_indices(list(model.bandwidth_fed.values()))),
            "time_main": np.array(self.nlp.get_primal_indices(list(model.time_main.values()))),
            "time_fed": np.array(self.nlp.get_primal_indices(list(model.time_fed.values()))),
        }
        self._multipliers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _point(self, eta: float, allocation: Allocation) -> np.ndarray:
        x = self.nlp.init_primals().copy()
        x[self._index["eta"]] = eta
        x[self._index["bandwidth_main"]] = allocation.bandwidth_main_mhz
        x[self._index["bandwidth_fed"]] = allocation.bandwidth_fed_mhz
        x[self._index["time_main"]] = allocation.time_main_s
        x[self._index["time_fed"]] = allocation.time_fed_s
        # (17a): T starts at the largest user delay at these upload times, the smallest feasible T.
        x[self._index["T"]] = float(np.max(self.scenario.user_delays_s(eta, allocation.time_main_s,
                                                                       allocation.time_fed_s)))
        return x

    def equal_split(self, eta: float) -> Allocation:
        s = self.scenario
        count = s.user_count
        return Allocation(eta, math.nan, np.full(count, s.bandwidth_main_hz / count / MHZ),
                          np.full(count, s.bandwidth_fed_hz / count / MHZ), *s.equal_split_times_s())

    def _solve_once(self, eta: float, start: Allocation, warm: bool, label: str) -> tuple[SolveRecord, np.ndarray]:
        problem = _NlpAtEta(self.nlp, self._index["eta"], eta, self.solver.iteration_callback)
        multipliers = self._multipliers if warm and self._multipliers is not None else ([], [], [])
        record, answer = self.solver.solve_nlp(problem, self._point(eta, start), warm, label, multipliers)
        problem.close()
        if record.optimal:
            self._multipliers = (answer["mult_g"], answer["mult_x_L"], answer["mult_x_U"])
        return record, answer["x"]

    def solve(self, eta: float, start: Allocation | None, label: str) -> EngineSolve:
        """From `start` with the last multipliers (None: the equal split, cold); a warm start that fails
        is retried once cold."""
        x = None

        def attempt(warm: bool) -> SolveRecord:
            nonlocal x
            if warm:
                record, x = self._solve_once(eta, start, True, label)
                return record
            self._multipliers = None
            record, x = self._solve_once(eta, self.equal_split(eta), False, f"{label}, cold")
            return record

        record = _warm_then_cold(start, attempt)
        if not record.optimal:
            return EngineSolve(record, math.nan, None)
        index = self._index
        allocation = Allocation(eta, float(x[index["T"]]), x[index["bandwidth_main"]], x[index["bandwidth_fed"]],
                                x[index["time_main"]], x[index["time_fed"]])
        return EngineSolve(record, allocation.T, allocation)


class Structured:
    """solvers.fedsllm.structured at each eta, warm-started from the nearer of the last and the best point
    (only those two are kept, so memory stays linear in K)."""

    name = "structured"
    solver_name = "the structured engine"

    def __init__(self, inputs: FedsllmInputs, gap: float, solve=None):
        from solvers.fedsllm.batched import solve_structured_compiled  # noqa: PLC0415 (numba, only here)

        self.scenario = SplitScenario.from_inputs(inputs)
        self.gap = gap
        # The compiled kernel (solvers/fedsllm/kernels.py); `solve`: another solver with its signature, e.g.
        # the numpy one (solvers.fedsllm.structured.solve_structured) that benches compare it with.
        self.solve_at = solve or solve_structured_compiled
        self.last: StructuredPoint | None = None
        self.best: StructuredPoint | None = None
        self.user_sweeps = 0  # per-user Newton passes over all solves (what bounds the engine's time)

    def solve(self, eta: float, start: Allocation | None, label: str) -> EngineSolve:
        kept = [p for p in (self.last, self.best) if p is not None]
        nearest = min(kept, key=lambda p: abs(p.eta - eta), default=None)
        point = self.solve_at(self.scenario, eta, nearest, self.gap)
        self.user_sweeps += point.user_iterations
        message = (f"T in [{point.lower_bound:.12g}, {point.T:.12g}] s, relative gap {point.gap:.2e} "
                   f"(target {self.gap:g}); {point.iterations} budget steps, {point.user_iterations} per-user sweeps")
        record = SolveRecord(point.converged, point.status, message, point.iterations, point.seconds)
        ipopt_log.info("structured %s: %s, %s", label, point.status, message)
        if not point.converged:
            return EngineSolve(record, math.nan, None, point.lower_bound)
        self.last = point
        if self.best is None or point.T < self.best.T:
            self.best = point
        return EngineSolve(record, point.T, Allocation.from_structured(point), point.lower_bound)
