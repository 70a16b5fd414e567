"""CARD solve strategies (Algorithm 1), its cross-checks and the benchmarks (docs/card.md).

- `card_algorithm1`: P3's closed form (16) f* = min(max(Q, F_min), F_max), then
  P4 (17) by enumerating every cut at f*; Q does not depend on c, so this solves
  P2 (14) exactly, O(I).
- `solve_p3_every_cut` and `least_cost`: every cut's P3 (15) solved by Ipopt,
  and the best of them (the full enumeration).
- `solve_p1_by_scip`: P1 (13) over the whole horizon by SCIP 10 (PySCIPOpt,
  through Pyomo's `scip_direct`), proven optimal, with its primal and dual
  bounds; also the per-round variant (one server clock per round).
- `solve_minlp`: P1 (13) (or P2) by MindtPy outer approximation, HiGHS for the
  MILP master problems and Ipopt (cyipopt) for the NLP subproblems.
- `per_round_optimum`: the per-round variant by an independent exact method
  (a global search over the round's one clock), for the tests.
- benchmarks: server-only (c = 0) and device-only (c = I), server at F_max.
"""

from __future__ import annotations

import functools
import math
import signal
import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import check_optimal_termination

from data.card import CardInputs
from data.card_channel import Links, links
from data.card_costs import PairCosts, pair_costs
from data.card_profile import Profile
from models.card import build_p1, build_p3, build_p3_every_cut, per_round_clocks, set_choice
from solvers.ipopt import DEFAULT_OPTIONS, IpoptSolver, SolveError
from solvers.progress import Progress
from solvers.stopping import StopRequested, native_section


@dataclass(frozen=True)
class CardDecision:
    device: str
    round: int
    cut: int
    clock_ghz: float
    cost: float
    delay_s: float
    energy_j: float


def decision(pair: PairCosts, cut: int, clock_ghz: float) -> CardDecision:
    return CardDecision(pair.device, pair.round, int(cut), float(clock_ghz), float(pair.cost(cut, clock_ghz)),
                        float(pair.delay(cut, clock_ghz)), float(pair.energy(cut, clock_ghz)))


def eq16_optimal_clock_ghz(pair: PairCosts) -> float:
    """(16) P3's optimum: Q = cbrt(w (E_max - E_min) / (2 xi (1 - w) (D_max - D_min))) (Hz), clamped to
    [F_min, F_max]; f = F_max at w = 1 and F_min at w = 0."""
    if pair.w >= 1.0:
        return pair.clock_max_ghz
    if pair.w <= 0.0:
        return pair.clock_min_ghz
    q_hz = ((pair.w * (pair.energy_max - pair.energy_min))
            / (2.0 * pair.xi * (1.0 - pair.w) * (pair.delay_max - pair.delay_min))) ** (1.0 / 3.0)
    return min(max(q_hz / 1e9, pair.clock_min_ghz), pair.clock_max_ghz)


def best_cut_at(pair: PairCosts, clock_ghz: float) -> int:
    """P4 (17) by enumeration: the cut of least cost at this clock (the smallest on a tie)."""
    return int(np.argmin(pair.cost(pair.cuts, clock_ghz)))


def card_algorithm1(pair: PairCosts) -> CardDecision:
    """Algorithm 1 (CARD): the clock of (16), then the best cut at that clock (P4)."""
    clock = eq16_optimal_clock_ghz(pair)
    return decision(pair, best_cut_at(pair, clock), clock)


def solve_p3(pair: PairCosts, cut: int, solver: IpoptSolver) -> CardDecision:
    """P3 (15) at one cut by Ipopt."""
    model = build_p3(pair, cut)
    record = solver.solve(model, label=f"P3 device {pair.device} round {pair.round} cut {cut}")
    if not record.optimal:
        raise SolveError([f"P3 (device {pair.device}, round {pair.round}, cut {cut}): Ipopt status "
                          f"'{record.status}' ({record.message})"])
    return decision(pair, cut, model.clock[0].value)


def solve_p3_every_cut(pair: PairCosts, solver: IpoptSolver) -> list[CardDecision]:
    """P3 (15) by Ipopt at every cut, in cut order, one model per cut."""
    return [solve_p3(pair, int(c), solver) for c in pair.cuts]


def solve_p3_every_cut_at_once(pairs: list[PairCosts], solver: IpoptSolver) -> list[list[CardDecision]]:
    """P3 (15) at every cut of every pair, by Ipopt on one block-separable NLP (each block is one P3, so its
    optimum is every P3's optimum); per pair, the decisions in cut order."""
    model = build_p3_every_cut(pairs)
    record = solver.solve(model, label=f"P3 at every cut of {len(pairs)} device-rounds")
    if not record.optimal:
        raise SolveError([f"P3 at every cut of {len(pairs)} device-rounds: Ipopt status '{record.status}' "
                          f"({record.message}); try solver.max_iter or a smaller crosscheck.rounds"])
    return [[decision(pair, int(c), model.clock[p, int(c)].value) for c in pair.cuts] for p, pair in enumerate(pairs)]


def least_cost(decisions: list[CardDecision]) -> CardDecision:
    """The full enumeration's answer: the decision of least cost (the first on a tie)."""
    return min(decisions, key=lambda d: d.cost)


def solve_with_mindtpy(model: pyo.ConcreteModel, nlp_options: dict | None = None, time_limit_s: float = 600):
    """MindtPy's outer approximation on a CARD model (P1, P2 or P4): HiGHS masters, cyipopt NLPs,
    `linearize_inactive` so the master sees every cut's cost at each clock. Returns Pyomo's results."""
    options = {**DEFAULT_OPTIONS, "tol": 1e-10, **(nlp_options or {})}
    return pyo.SolverFactory("mindtpy").solve(
        model, strategy="OA", mip_solver="appsi_highs", nlp_solver="cyipopt",
        nlp_solver_args={"options": options}, time_limit=time_limit_s, absolute_bound_tolerance=1e-9,
        relative_bound_tolerance=1e-9, init_strategy="initial_binary", linearize_inactive=True)


def _solve_p1_by_mindtpy(pairs: list[PairCosts], nlp_options: dict | None, time_limit_s: float):
    """P1 over `pairs` by MindtPy OA: the decisions and Pyomo's results (which carry its bounds)."""
    model = build_p1(pairs, two_sided_rows=True)
    for p, pair in enumerate(pairs):  # start from the server-only choice; OA finds the rest
        set_choice(model, p, 0, pair.clock_max_ghz)
    results = solve_with_mindtpy(model, nlp_options, time_limit_s)
    if not check_optimal_termination(results):
        raise SolveError([f"P1 by MindtPy: status '{results.solver.termination_condition}'"])
    decisions = []
    for p, pair in enumerate(pairs):
        cut = max(model.cuts, key=lambda c: model.cut_choice[p, c].value)
        decisions.append(decision(pair, cut, model.clock[p].value))
    return decisions, results


def solve_minlp(pairs: list[PairCosts], nlp_options: dict | None = None, time_limit_s: float = 600
                ) -> list[CardDecision]:
    """P1 over `pairs` (P2 when there is one) by MindtPy OA with HiGHS and cyipopt."""
    return _solve_p1_by_mindtpy(pairs, nlp_options, time_limit_s)[0]


# --- P1 by SCIP (and the per-round variant) -------------------------------------------------

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
                     time_limit_s: float = SCIP_TIME_LIMIT_S, label: str = "P1", form: str = "big_m") -> MinlpSolve:
    """P1 (13) over `pairs` by SCIP, to proven optimality (SCIP's gap limit 0), feasibility tolerance 1e-9.
    `clock_groups` and `form` as in `models.card.build_p1` (per_round_clocks for one clock per round, whose
    fast form is the perspective one). Ctrl-C: SCIP catches it and stops; the run then stops as for any
    Ctrl-C."""
    from pyomo.contrib.solver.common.factory import SolverFactory  # noqa: PLC0415 (registers on import)
    from pyomo.contrib.solver.common.results import TerminationCondition  # noqa: PLC0415

    model = build_p1(pairs, clock_groups=clock_groups, form=form)
    solver = SolverFactory("scip_direct")
    started = time.perf_counter()
    with native_section():
        results = solver.solve(model, time_limit=time_limit_s, load_solutions=False,
                               raise_exception_on_nonoptimal_result=False,
                               solver_options={"numerics/feastol": SCIP_FEASIBILITY_TOLERANCE})
    seconds = time.perf_counter() - started
    condition = results.termination_condition
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


# --- The per-round variant by an independent exact method (the tests' reference) ------------

def _cost_coefficients(pair: PairCosts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cut, (a, b, g) with U_c(f) = a_c + b_c / f + g_c f^2 (f in GHz), read off three evaluations of U:
    U is linear in (1, 1/f, f^2), so three clocks determine it exactly."""
    probe = np.array([1.0, 2.0, 3.0])
    basis = np.stack([np.ones(3), 1.0 / probe, probe**2], axis=1)
    values = np.array([[float(pair.cost(int(c), f)) for f in probe] for c in pair.cuts])
    a, b, g = np.linalg.solve(basis, values.T)
    return a, b, g


def _crossings_ghz(coefficients, low: float, high: float) -> list[float]:
    """Clocks in (low, high) where two cuts' costs cross: U_c - U_c' = 0 is, times f, the cubic
    (g_c - g_c') f^3 + (a_c - a_c') f + (b_c - b_c') = 0."""
    a, b, g = coefficients
    points = []
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            for root in np.roots([g[i] - g[j], 0.0, a[i] - a[j], b[i] - b[j]]):
                if abs(root.imag) < 1e-12 and low < root.real < high:
                    points.append(float(root.real))
    return points


def per_round_optimum(pairs: list[PairCosts]) -> tuple[float, float, list[int]]:
    """One round's optimum with one shared clock: (clock in GHz, sum of U, cut of each pair).

    For a fixed clock the cuts separate, so the round's cost is Phi(f) = sum over devices of the lower
    envelope min_c U_c(f), each U_c convex in f. Between consecutive crossing points of any device's costs
    every device keeps one cut, so Phi is there a convex A + B/f + G f^2, minimised in closed form at
    f = cbrt(B / (2 G)), clamped to the piece. The best piece holds the global optimum."""
    low = max(pair.clock_min_ghz for pair in pairs)
    high = min(pair.clock_max_ghz for pair in pairs)
    coefficients = [_cost_coefficients(pair) for pair in pairs]
    breaks = sorted({low, high, *(x for c in coefficients for x in _crossings_ghz(c, low, high))})
    best_value, best_clock = math.inf, low
    for left, right in zip(breaks[:-1], breaks[1:]):
        middle = 0.5 * (left + right)
        cuts = [int(np.argmin(a + b / middle + g * middle**2)) for a, b, g in coefficients]
        b_sum = sum(b[c] for (_, b, _), c in zip(coefficients, cuts))
        g_sum = sum(g[c] for (_, _, g), c in zip(coefficients, cuts))
        stationary = (b_sum / (2 * g_sum)) ** (1 / 3) if g_sum > 0 else right
        for clock in (left, right, min(max(stationary, left), right)):
            value = sum(float(pair.cost(c, clock)) for pair, c in zip(pairs, cuts))
            if value < best_value:
                best_value, best_clock = value, clock
    return best_clock, best_value, [best_cut_at(pair, best_clock) for pair in pairs]


@dataclass
class StateResult:
    """Everything CARD decides under one channel state."""

    state: str
    links: Links
    pairs: list[PairCosts]
    card: list[CardDecision]
    server_only: list[CardDecision]
    device_only: list[CardDecision]
    out_of_range: list[tuple[str, int, float, float]]  # device, round, SNR up, SNR down (dB)
    per_round_solves: list[MinlpSolve] | None = None  # server_clock=per_round: one SCIP solve per round

    @property
    def per_round(self) -> list[CardDecision] | None:
        """The decisions with one clock per round, in round order (None unless server_clock=per_round)."""
        if self.per_round_solves is None:
            return None
        return [d for solve in self.per_round_solves for d in solve.decisions]

    def mean(self, method: str, attribute: str) -> float:
        return float(np.mean([getattr(d, attribute) for d in getattr(self, method)])) if self.card else math.nan


def solve_state(inputs: CardInputs, profile: Profile, state: str) -> StateResult:
    state_links = links(inputs, state)
    pairs, out_of_range = [], []
    for m in range(len(inputs.device_ids)):
        for n in range(inputs.parameter("rounds")):
            if state_links.in_range[m, n]:
                pairs.append(pair_costs(inputs, profile, state_links, m, n))
            else:
                out_of_range.append((inputs.device_ids[m], n + 1, float(state_links.snr_up_db[m, n]),
                                     float(state_links.snr_down_db[m, n])))
    return StateResult(
        state, state_links, pairs,
        card=[card_algorithm1(pair) for pair in pairs],
        server_only=[decision(pair, 0, pair.clock_max_ghz) for pair in pairs],
        device_only=[decision(pair, pair.last_cut, pair.clock_max_ghz) for pair in pairs],
        out_of_range=out_of_range,
    )


CROSSCHECK_TOLERANCE = 1e-6  # on the normalised cost U
# Measured on this 2-core machine (2026-11-23), per cross-checked device-round: P3 at every cut by Ipopt in one
# NLP about 0.04 s; P1 by SCIP about 0.2 s (19 s for 100); by MindtPy about 8 s (331 s for 40).
SECONDS_PER_PAIR = {"p3": 0.04, "scip": 0.2, "mindtpy": 8.0}
MINLP_ENGINES = ("scip", "mindtpy")


def checked_pairs(inputs: CardInputs, rounds: int | None) -> int:
    """Device-rounds of the first `rounds` rounds (None: all), in range or not."""
    total = int(inputs.parameter("rounds"))
    return len(inputs.device_ids) * (total if rounds is None else min(rounds, total))


def crosscheck_estimate_seconds(inputs: CardInputs, rounds: int | None, minlp: str = "scip") -> float:
    """A rough wall time of the cross-checks (P3 at every cut, then P1 by the MINLP solver)."""
    return checked_pairs(inputs, rounds) * (SECONDS_PER_PAIR["p3"] + SECONDS_PER_PAIR[minlp])


@dataclass(frozen=True)
class CrossCheck:
    check: str
    pairs: int
    max_cost_difference: float
    cut_differences: int
    max_clock_difference_hz: float
    minlp: MinlpSolve | None = None  # the solver's bounds, when the check is a MINLP solve
    card_total_cost: float = math.nan  # sum of CARD's U over the same pairs

    tolerance: float = CROSSCHECK_TOLERANCE

    @property
    def proven_gap(self) -> float:
        """CARD's total cost above the MINLP's dual bound (<= 0 up to tolerances: CARD is optimal)."""
        return self.card_total_cost - self.minlp.dual_bound if self.minlp else math.nan

    @property
    def passed(self) -> bool:
        within = self.max_cost_difference <= self.tolerance
        if self.minlp is None:
            return within
        return within and self.minlp.optimal and self.proven_gap <= self.tolerance


def _compare(check: str, ours: list[CardDecision], theirs: list[CardDecision], minlp: MinlpSolve | None = None
             ) -> CrossCheck:
    return CrossCheck(check, len(ours), max(abs(a.cost - b.cost) for a, b in zip(ours, theirs)),
                      sum(a.cut != b.cut for a, b in zip(ours, theirs)),
                      max(abs(a.clock_ghz - b.clock_ghz) for a, b in zip(ours, theirs)) * 1e9, minlp,
                      float(sum(d.cost for d in ours)))


def solve_p1_by_mindtpy(pairs: list[PairCosts], time_limit_s: float) -> MinlpSolve:
    """P1 by MindtPy's OA, as a MinlpSolve with its primal and dual bounds from Pyomo's results (the dual
    bound is what proves CARD optimal in the cross-check)."""
    started = time.perf_counter()
    decisions, results = _solve_p1_by_mindtpy(pairs, None, time_limit_s)
    seconds = time.perf_counter() - started
    return MinlpSolve("MindtPy OA (HiGHS, Ipopt)", str(results.solver.termination_condition), True,
                      float(results.problem.upper_bound), float(results.problem.lower_bound), seconds, decisions)


def crosscheck(result: StateResult, rounds: int | None, solver: IpoptSolver, progress: Progress | None = None,
               minlp: str = "scip", time_limit_s: float = SCIP_TIME_LIMIT_S) -> list[CrossCheck]:
    """CARD against P3 by Ipopt (every cut), the enumeration over those, and P1 by SCIP (or MindtPy), on the
    in-range pairs of the first `rounds` rounds (None: the whole horizon); none when all are out of range."""
    if rounds is not None and rounds < 1:
        raise ValueError(f"the cross-checks need at least one round, got {rounds}")
    if minlp not in MINLP_ENGINES:
        raise ValueError(f"minlp={minlp!r}: expected one of {MINLP_ENGINES}")
    progress = progress or Progress.silent()
    chosen = [i for i, pair in enumerate(result.pairs) if rounds is None or pair.round <= rounds]
    if not chosen:
        return []  # every device-round of those rounds is out of range: nothing to check (the report says so)
    pairs = [result.pairs[i] for i in chosen]
    ours = [result.card[i] for i in chosen]
    progress.start("cross-check: P3 by Ipopt at every cut", 1, unit="NLPs")
    by_cut = solve_p3_every_cut_at_once(pairs, solver)
    progress.advance(f"{len(pairs)} device-rounds x {len(pairs[0].cuts)} cuts")
    progress.finish()
    closed = [[decision(pair, int(c), eq16_optimal_clock_ghz(pair)) for c in pair.cuts] for pair in pairs]
    flat_ipopt = [d for row in by_cut for d in row]
    flat_closed = [d for row in closed for d in row]
    enumerated = [least_cost(row) for row in by_cut]
    name = "SCIP" if minlp == "scip" else "MindtPy"
    progress.start(f"cross-check: P1 by {name}", 1, unit="MINLPs")
    if minlp == "scip":
        solved = solve_p1_by_scip(pairs, time_limit_s=time_limit_s)
        label = f"P1 by {solved.solver}, {len(pairs)} device-rounds at once"
    else:
        solved = solve_p1_by_mindtpy(pairs, time_limit_s)
        label = "P1 by MindtPy (OA: HiGHS MILP, Ipopt NLP)"
    progress.advance(f"{len(pairs)} device-rounds")
    progress.finish()
    return [
        _compare("P3 by Ipopt against the closed form, every cut", flat_closed, flat_ipopt),
        _compare("enumeration of P3 by Ipopt (full enumeration)", ours, enumerated),
        _compare(label, ours, solved.decisions, solved),
    ]


def per_round_crosscheck(result: StateResult) -> CrossCheck:
    """The per-round variant by SCIP against the independent global search over each round's clock."""
    theirs = []
    for pairs in pairs_by_round(result.pairs).values():
        clock, _, cuts = per_round_optimum(pairs)
        theirs += [decision(pair, cut, clock) for pair, cut in zip(pairs, cuts)]
    return _compare("per-round clock: SCIP against the global search over each round's clock", result.per_round,
                    theirs)
