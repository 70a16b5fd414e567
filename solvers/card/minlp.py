"""P1 (13) by a MINLP solver, for the cross-checks.

- `solve_p1_by_scip`: P1 over the whole horizon by SCIP 10 (PySCIPOpt, through
  Pyomo's `scip_direct`), proven optimal, with its primal and dual bounds; also
  the per-round variant (one server clock per round).
- `solve_p1_by_mindtpy`: P1 (or P2) by MindtPy outer approximation, HiGHS for
  the MILP master problems and Ipopt (cyipopt) for the NLP subproblems.
"""

from __future__ import annotations

import functools
import logging
import math
import signal
import time
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.opt import check_optimal_termination

from data.card.costs import PairCosts
from models.card import build_p1, per_round_clocks, set_choice
from solvers.card.algorithm import CardDecision, decision
from solvers.runtime.ipopt import DEFAULT_OPTIONS, SolveError
from solvers.card.scip_progress import solve_progress
from solvers.runtime.progress import Progress
from solvers.runtime.stopping import StopRequested


log = logging.getLogger(__name__)


def solve_with_mindtpy(model: pyo.ConcreteModel, nlp_options: dict | None = None, time_limit_s: float = 600):
    """MindtPy's outer approximation on a CARD model (P1, P2 or P4): HiGHS masters, cyipopt NLPs,
    `linearize_inactive` so the master sees every cut's cost at each clock. Returns Pyomo's results."""
    options = {**DEFAULT_OPTIONS, "tol": 1e-10, **(nlp_options or {})}
    return pyo.SolverFactory("mindtpy").solve(
        model, strategy="OA", mip_solver="appsi_highs", nlp_solver="cyipopt",
        nlp_solver_args={"options": options}, time_limit=time_limit_s, absolute_bound_tolerance=1e-9,
        relative_bound_tolerance=1e-9, init_strategy="initial_binary", linearize_inactive=True)


SCIP_FEASIBILITY_TOLERANCE = 1e-9  # SCIP's default 1e-6 left its objective 1.8e-6 below CARD's on 5 device-rounds
SCIP_TIME_LIMIT_S = 600.0


@dataclass(frozen=True)
class MinlpSolve:
    """What a MINLP solver proved about P1 (or the per-round variant) over some device-rounds.

    `decisions` are costed exactly (eqs. 7-12) at the solver's cut and clock, so their sum is a true upper
    bound; `primal_bound` is the solver's own objective, which its tolerances may put slightly below."""

    solver: str
    status: str
    optimal: bool
    primal_bound: float
    dual_bound: float
    seconds: float
    decisions: list[CardDecision]

    @property
    def gap(self) -> float:
        """SCIP's relative gap |primal - dual| / |primal|."""
        if not (math.isfinite(self.primal_bound) and math.isfinite(self.dual_bound)):
            return math.inf
        return abs(self.primal_bound - self.dual_bound) / max(abs(self.primal_bound), 1e-12)

    @property
    def total_cost(self) -> float:
        return float(sum(d.cost for d in self.decisions))


@functools.cache
def scip_version() -> str:
    import pyscipopt  # noqa: PLC0415 (the wheel is a dependency; imported where SCIP is asked for)
    return f"SCIP {pyscipopt.Model().version()} (PySCIPOpt {pyscipopt.__version__})"


def _chosen_decisions(model: pyo.ConcreteModel, pairs: list[PairCosts]) -> list[CardDecision]:
    """Each pair's cut and clock as the solver left them, the clock put back inside its bounds (the solver
    may stray outside by its feasibility tolerance), costed exactly."""
    decisions = []
    for p, pair in enumerate(pairs):
        cut = max(model.cuts, key=lambda c: model.cut_choice[p, c].value)
        clock = model.clock[model.clock_of[p]]
        decisions.append(decision(pair, cut, min(max(clock.value, clock.lb), clock.ub)))
    return decisions


def solve_p1_by_scip(pairs: list[PairCosts], clock_groups: list | None = None,
                     time_limit_s: float = SCIP_TIME_LIMIT_S, label: str = "P1", form: str = "big_m",
                     progress: Progress | None = None) -> MinlpSolve:
    """P1 (13) over `pairs` by SCIP, to proven optimality (SCIP's gap limit 0), feasibility tolerance 1e-9.
    `clock_groups` and `form` as in `models.card.build_p1` (per_round_clocks for one clock per round, whose
    fast form is the perspective one); `progress` shows the solve against its time limit. Ctrl-C or SIGTERM
    interrupts SCIP (solvers.runtime.scip) and the run stops as for any stop."""
    from pyomo.contrib.solver.common.results import TerminationCondition  # noqa: PLC0415

    model = build_p1(pairs, clock_groups=clock_groups, form=form)
    started = time.perf_counter()
    shown = progress or Progress.silent()
    with solve_progress(shown, f"{label} by SCIP", time_limit_s) as solver:
        results = solver.solve(model, time_limit=time_limit_s, load_solutions=False,
                               raise_exception_on_nonoptimal_result=False,
                               solver_options={"numerics/feastol": SCIP_FEASIBILITY_TOLERANCE})
    seconds = time.perf_counter() - started
    condition = results.termination_condition
    log.info("%s by SCIP over %d device-rounds: %s in %.1f s; its log: %d bytes", label, len(pairs), condition.name,
             seconds, len(results.solver_log.encode()))
    if condition == TerminationCondition.interrupted:
        raise StopRequested(signal.SIGINT)
    primal = results.incumbent_objective if results.incumbent_objective is not None else math.inf
    dual = results.objective_bound if results.objective_bound is not None else -math.inf
    optimal = condition == TerminationCondition.convergenceCriteriaSatisfied
    if not optimal:
        hint = (f"raise crosscheck.time_limit (now {time_limit_s:g} s) or check fewer rounds (crosscheck.rounds)"
                if condition == TerminationCondition.maxTimeLimit else "check the workbook's ranges")
        raise SolveError([f"{label} by SCIP over {len(pairs)} device-rounds: status '{condition.name}' after "
                          f"{seconds:.1f} s; primal bound {primal:.12g}, dual bound {dual:.12g}; {hint}"])
    results.solution_loader.load_vars()
    return MinlpSolve(scip_version(), condition.name, optimal, float(primal), float(dual), seconds,
                      _chosen_decisions(model, pairs))


def pairs_by_round(pairs: list[PairCosts]) -> dict[int, list[PairCosts]]:
    """The pairs each round serves, in round order."""
    rounds: dict[int, list[PairCosts]] = {}
    for pair in sorted(pairs, key=lambda pair: pair.round):
        rounds.setdefault(pair.round, []).append(pair)
    return rounds


def solve_per_round_by_scip(pairs: list[PairCosts], time_limit_s: float = SCIP_TIME_LIMIT_S,
                            progress: Progress | None = None) -> list[MinlpSolve]:
    """The per-round variant (one server clock per round, shared by the round's devices), one SCIP solve
    per round (rounds do not interact), in round order."""
    progress = progress or Progress.silent()
    rounds = pairs_by_round(pairs)
    progress.start("per-round server clock: SCIP", len(rounds), unit="rounds")
    solves = []
    for n, served in rounds.items():
        solves.append(solve_p1_by_scip(served, per_round_clocks(served), time_limit_s,
                                       label=f"per-round clock, round {n},", form="perspective"))
        progress.advance(f"round {n}")
    progress.finish()
    return solves


def solve_p1_by_mindtpy(pairs: list[PairCosts], time_limit_s: float) -> MinlpSolve:
    """P1 over `pairs` (P2 for one pair) by MindtPy's OA, as a MinlpSolve with its primal and dual bounds from
    Pyomo's results (the dual bound is what proves CARD optimal in the cross-check)."""
    model = build_p1(pairs, two_sided_rows=True)
    for p, pair in enumerate(pairs):  # start from the server-only choice; OA finds the rest
        set_choice(model, p, 0, pair.clock_max_ghz)
    started = time.perf_counter()
    results = solve_with_mindtpy(model, time_limit_s=time_limit_s)
    seconds = time.perf_counter() - started
    if not check_optimal_termination(results):
        raise SolveError([f"P1 by MindtPy over {len(pairs)} device-rounds: status "
                          f"'{results.solver.termination_condition}' after {seconds:.1f} s; raise "
                          f"crosscheck.time_limit or check fewer rounds (crosscheck.rounds)"])
    return MinlpSolve("MindtPy OA (HiGHS, Ipopt)", str(results.solver.termination_condition), True,
                      float(results.problem.upper_bound), float(results.problem.lower_bound), seconds,
                      _chosen_decisions(model, pairs))
