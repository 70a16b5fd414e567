"""Ipopt through cyipopt (PyNumero): one configured solver, solve records, clear failures."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.opt import check_optimal_termination

from data.issues import itemised

# mumps_pivot_order 0 (AMD): Debian's Ipopt 3.11 crashes inside MUMPS' SCOTCH
# ordering on large models (seen at K = 5000).
# bound_relax_factor 0: Ipopt's default 1e-8 relaxes every bound, constraints'
# too, by 1e-8 in model units; on weak links (rates of kbit/s) that let (17b)
# and (17c) be violated by 1e-6 relative and T come out 3e-6 too low.
DEFAULT_OPTIONS = {"tol": 1e-9, "max_iter": 3000, "mumps_pivot_order": 0, "bound_relax_factor": 0.0,
                   "print_level": 0}
# From a neighbouring optimum (primal values and the model's `dual` suffix, which
# must be IMPORT_EXPORT): start near the central path instead of re-centring.
WARM_START_OPTIONS = {"warm_start_init_point": "yes", "mu_init": 1e-6}

SOLVER_ADVICE = (
    "What you can do: raise solver.max_iter, loosen solver.tol, or check the workbook for "
    "extreme values (very weak channel gains, tiny bandwidths); run with solver.print_level=5 "
    "to see Ipopt's log."
)


@dataclass(frozen=True)
class SolveRecord:
    """What one Ipopt solve returned."""

    optimal: bool
    status: str  # Pyomo's termination condition, e.g. "optimal", "maxIterations"
    message: str  # Ipopt's own status message
    iterations: int
    seconds: float


class SolveError(Exception):
    """One or more solves did not reach an optimum; the message says where and what to do."""

    def __init__(self, failures: list[str]):
        self.failures = list(failures)
        super().__init__(itemised("solve", "did not reach an optimum", self.failures, SOLVER_ADVICE))


class SolverUnavailableError(Exception):
    pass


def check_ipopt_available() -> None:
    """Raise a clear error when cyipopt or PyNumero's ASL library is missing."""
    from pyomo.contrib.pynumero.asl import AmplInterface

    if not pyo.SolverFactory("cyipopt").available(exception_flag=False):
        raise SolverUnavailableError("cyipopt is not importable; run ./setup.sh")
    if not AmplInterface.available():
        raise SolverUnavailableError(
            "PyNumero's ASL library was not found (PYOMO_CONFIG_DIR/lib/libpynumero_ASL.so); run ./setup.sh")


class IpoptSolver:
    """A cyipopt solver with fixed options that counts Ipopt's iterations per solve.

    `solve(model, warm=True)` adds WARM_START_OPTIONS (user options still win)."""

    def __init__(self, options: Mapping[str, object] | None = None):
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self._iterations = 0
        self._cold = self._make_solver(self.options)
        self._warm = self._make_solver({**DEFAULT_OPTIONS, **WARM_START_OPTIONS, **(options or {})})

    def _make_solver(self, options: Mapping[str, object]):
        solver = pyo.SolverFactory("cyipopt", intermediate_callback=self._count_iteration)
        solver.config.options.update(options)
        return solver

    def _count_iteration(self, nlp, problem, alg_mod, iter_count, obj_value, inf_pr, inf_du, mu, d_norm,
                         regularization_size, alpha_du, alpha_pr, ls_trials):
        # 13 named arguments: Pyomo >= 6.8 passes the problem object only with this signature.
        self._iterations = iter_count
        return True

    def solve(self, model: pyo.ConcreteModel, warm: bool = False) -> SolveRecord:
        self._iterations = 0
        start = time.perf_counter()
        results = (self._warm if warm else self._cold).solve(model)
        seconds = time.perf_counter() - start
        message = results.solver.message
        message = message.decode() if isinstance(message, bytes) else str(message)
        return SolveRecord(
            optimal=bool(check_optimal_termination(results)),
            status=str(results.solver.termination_condition),
            message=message,
            iterations=self._iterations,
            seconds=seconds,
        )
