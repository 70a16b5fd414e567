"""Ipopt through cyipopt (PyNumero): one configured solver, solve records, clear failures.

Pyomo and numpy are imported where a solve or a check needs them, so that the command line's --help,
--cfg job and a refused override, which only need the options and the errors, start without them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from data.errors import EXIT_SOLVE, FedsplitError, itemised
from solvers.runtime.native import native_output_to_file
from solvers.runtime.stopping import stop_requested

if TYPE_CHECKING:
    import pyomo.environ as pyo

log = logging.getLogger(__name__)
Outcome = TypeVar("Outcome")

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


def warm_then_cold(attempt: Callable[[bool], Outcome], warm_start_given: bool,
                   succeeded: Callable[[Outcome], bool] = lambda record: record.optimal) -> list[Outcome]:
    """The one retry of every engine: `attempt(True)` when a warm start is given; if that fails (or none is
    given), `attempt(False)`, once. Every outcome, the last one last (callers sum their work)."""
    outcomes = [attempt(True)] if warm_start_given else []
    if not outcomes or not succeeded(outcomes[-1]):
        outcomes.append(attempt(False))
    return outcomes


class SolveError(FedsplitError):
    """One or more solves did not reach an optimum; the message says where and what to do. The command line
    sets `diagnostics` to the file it wrote the run log to."""

    exit_code = EXIT_SOLVE

    def __init__(self, failures: list[str], note: str = ""):
        self.failures = list(failures)
        self.diagnostics = None
        closing = f"{note}\n{SOLVER_ADVICE}" if note else SOLVER_ADVICE
        super().__init__(itemised("solve", "did not reach an optimum", self.failures, closing), self.failures)

    @property
    def after(self) -> str:
        return (f"No report was written; the solves so far are in {self.diagnostics}." if self.diagnostics
                else "Nothing was written.")


class SolverUnavailableError(FedsplitError):
    """cyipopt or PyNumero's library is missing."""


class SolverOptionError(FedsplitError):
    """An Ipopt option that Ipopt does not know or whose value it refuses."""


class _OneVariable:
    """The smallest problem cyipopt accepts, to try options on before any real work."""

    def objective(self, x):
        return float(x[0] ** 2)

    def gradient(self, x):
        return 2 * x


def check_ipopt_options(options: Mapping[str, object]) -> None:
    """Raise SolverOptionError naming every option Ipopt refuses (name or value)."""
    import cyipopt
    import numpy as np  # noqa: PLC0415

    problem = cyipopt.Problem(n=1, m=0, problem_obj=_OneVariable(), lb=np.zeros(1), ub=np.ones(1))
    refused = []
    for name, value in options.items():
        said: list[str] = []
        with native_output_to_file(said):
            try:
                problem.add_option(name, value)
                continue
            except TypeError:
                pass
        reason = next((line.strip() for line in said if line.startswith("Tried to set")), "")
        refused.append(f"{name}={value!r}" + (f" ({reason})" if reason else ""))
    if refused:
        raise SolverOptionError.listing("Ipopt option", refused,
                                        "refused (https://coin-or.github.io/Ipopt/OPTIONS.html)")


def check_ipopt_available() -> None:
    """Raise a clear error when cyipopt or PyNumero's ASL library is missing."""
    import pyomo.environ as pyo  # noqa: PLC0415
    from pyomo.contrib.pynumero.asl import AmplInterface  # noqa: PLC0415

    if not pyo.SolverFactory("cyipopt").available(exception_flag=False):
        raise SolverUnavailableError("cyipopt is not importable; run ./setup.sh")
    if not AmplInterface.available():
        raise SolverUnavailableError(
            "PyNumero's ASL library was not found (PYOMO_CONFIG_DIR/lib/libpynumero_ASL.so); run ./setup.sh")


class IpoptSolver:
    """Ipopt (cyipopt on PyNumero's NLP of a Pyomo model) with fixed options; counts its iterations per solve.

    `solve(model, warm=True)` adds WARM_START_OPTIONS (user options still win). Pyomo's `cyipopt` solver,
    step for step (solvers.runtime.cyipopt_nlp), except that Ipopt's output goes to a file, never a pipe that
    could fill, and only the call into Ipopt defers a stop (building the NLP and loading the point do not)."""

    def __init__(self, options: Mapping[str, object] | None = None):
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self._user_options = dict(options or {})
        self._iterations = 0

    def options_for(self, warm: bool) -> dict[str, object]:
        """Ipopt's options for a cold or a warm solve (user options win over WARM_START_OPTIONS)."""
        if not warm:
            return dict(self.options)
        return {**DEFAULT_OPTIONS, **WARM_START_OPTIONS, **self._user_options}

    @property
    def iterations(self) -> int:
        """Ipopt's iterations in the current (or last) solve."""
        return self._iterations

    def reset_iterations(self) -> None:
        self._iterations = 0

    def iteration_callback(self, nlp, problem, alg_mod, iter_count, obj_value, inf_pr, inf_du, mu, d_norm,
                           regularization_size, alpha_du, alpha_pr, ls_trials):
        # 13 named arguments: Pyomo >= 6.8 passes the problem object only with this signature.
        self._iterations = iter_count
        return not stop_requested()  # False asks Ipopt to stop (Ctrl-C or SIGTERM arrived)

    def solve(self, model: pyo.ConcreteModel, warm: bool = False, label: str = "") -> SolveRecord:
        """One solve; `label` names it in the run log (e.g. "eta=0.84 grid")."""
        return self.solve_holding_nlp(model, warm, label)[0]

    def solve_holding_nlp(self, model: pyo.ConcreteModel, warm: bool = False, label: str = ""):
        """`solve`, also returning the model's PyomoNLP (the point and multipliers loaded into both), so that
        the certificate evaluates its derivatives without writing the model again."""
        from solvers.runtime.cyipopt_nlp import solve_model_keeping_nlp  # noqa: PLC0415 (Pyomo)

        self._iterations = 0
        start = time.perf_counter()
        results, nlp = solve_model_keeping_nlp(model, self.options_for(warm), self.iteration_callback)
        record = self._record(results, time.perf_counter() - start, label or model.name, warm)
        return record, nlp

    def solve_nlp(self, problem, start, warm: bool, label: str, multipliers=([], [], [])) -> tuple[SolveRecord, dict]:
        """One solve of a cyipopt problem (a PyNumero CyIpoptNLP) from the primal point `start` and the
        multipliers (constraints, lower and upper bounds; empty: Ipopt's defaults); returns the record and
        cyipopt's answer (`x`, `mult_g`, `mult_x_L`, `mult_x_U`, `status_msg`)."""
        from pyomo.opt import SolverResults  # noqa: PLC0415
        from pyomo.contrib.pynumero.algorithms.solvers.cyipopt_solver import (  # noqa: PLC0415
            _cyipopt_status_enum, _ipopt_term_cond)

        from solvers.runtime.cyipopt_nlp import run_ipopt  # noqa: PLC0415

        for name, value in self.options_for(warm).items():
            problem.add_option(name, value)
        self.reset_iterations()
        started = time.perf_counter()
        x, info = run_ipopt(problem, start, *multipliers)
        results = SolverResults()
        results.solver.termination_condition = _ipopt_term_cond[_cyipopt_status_enum[info["status_msg"]]]
        results.solver.message = info["status_msg"]
        return self._record(results, time.perf_counter() - started, label, warm), {**info, "x": x}

    def _record(self, results, seconds: float, label: str, warm: bool) -> SolveRecord:
        """The SolveRecord of a solve's SolverResults, logged in the run log."""
        from pyomo.opt import check_optimal_termination  # noqa: PLC0415

        message = results.solver.message
        message = message.decode() if isinstance(message, bytes) else str(message)
        record = SolveRecord(optimal=bool(check_optimal_termination(results)),
                             status=str(results.solver.termination_condition), message=message,
                             iterations=self._iterations, seconds=seconds)
        log.info("Ipopt %s%s: %s, %d iterations, %.3f s", label, " (warm)" if warm else "", record.status,
                 record.iterations, record.seconds)
        return record
