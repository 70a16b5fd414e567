"""Certificate of a FedsLLM Problem (17) optimum: Lemma 3 and the KKT conditions.

Reads the primal values, Ipopt's constraint multipliers (`dual` suffix) and
bound multipliers (`ipopt_zL_out`, `ipopt_zU_out`) held by the model, and checks:
- per user: Lemma 3's (19) [(17a) tight], (20) and (21) [rates exactly met],
  the slack of (17a), and positive multipliers of (17a), (17b), (17c);
- overall: sum_k lambda_k = 1 (stationarity in T), min lambda_k > 0, tight
  bandwidth budgets with positive multipliers, and the KKT residuals from
  PyNumero's exact derivatives: stationarity of the Lagrangian
  grad f + J^T lambda - z_L + z_U = 0 (Ipopt's sign convention), complementarity
  and primal feasibility.
Each check has a tolerance and a verdict; a FAIL is reported, never raised.
The table of these checks is built by reports/fedsllm.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

from models.fedsllm_values import DelayModelValues, multipliers_of
from solvers.fedsllm.scenario import SplitScenario, rate_bps


RELATIVE_TOLERANCE = 1e-6  # Lemma 3 residuals, slack of (17a), budgets, sum of lambda
KKT_TOLERANCE = 1e-6  # stationarity and complementarity (objective units)
FEASIBILITY_TOLERANCE = 1e-8  # primal infeasibility (constraint units)


@dataclass(frozen=True)
class Check:
    check: str
    scope: str  # user id or "all"
    value: float
    unit: str
    tolerance: str
    passed: bool
    description: str


@dataclass(frozen=True)
class UserCheck:
    """One check at every user: its values and verdicts as arrays, in the users' order."""

    check: str
    values: np.ndarray
    unit: str
    tolerance: str
    passed: np.ndarray  # bool per user
    description: str


@dataclass
class Certificate:
    checks: list[Check]  # the checks over all users (scope "all")
    kind: str = "Lemma 3 / KKT"  # or "duality gap" (structured engine above solver.certify_max_users)
    users: tuple[str, ...] = ()  # the scope of every per-user check, in order
    per_user: list[UserCheck] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.checks) + len(self.users) * len(self.per_user)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks) and all(bool(c.passed.all()) for c in self.per_user)

    def _user_rows(self, passed: bool | None = None, limit: int | None = None) -> list[Check]:
        """Per-user checks as rows, user by user (all of them, or only those that pass or fail)."""
        if not self.per_user:
            return []
        verdicts = np.stack([c.passed for c in self.per_user], axis=1)
        chosen = np.ones_like(verdicts) if passed is None else verdicts == passed
        users, checks = np.nonzero(chosen)
        return [Check(self.per_user[j].check, self.users[i], float(self.per_user[j].values[i]), self.per_user[j].unit,
                      self.per_user[j].tolerance, bool(verdicts[i, j]), self.per_user[j].description)
                for i, j in zip(users[:limit].tolist(), checks[:limit].tolist())]

    def rows(self) -> list[Check]:
        """Every check as a row: user by user, then the overall ones (the report's order)."""
        return self._user_rows() + self.checks

    @property
    def failing(self) -> list[Check]:
        return self._user_rows(passed=False) + [check for check in self.checks if not check.passed]

    def verdict(self) -> str:
        if self.passed:
            return f"PASS ({self.count} checks)"
        first = (self._user_rows(passed=False, limit=10) + [c for c in self.checks if not c.passed])[:10]
        failing = sum(int((~c.passed).sum()) for c in self.per_user) + sum(not c.passed for c in self.checks)
        names = ", ".join(f"{c.check}[{c.scope}]" for c in first)
        more = f" and {failing - 10} more" if failing > 10 else ""
        return f"FAIL: {names}{more}"


def _multiplier(model, constraint) -> float:
    """Ipopt's multiplier of an upper-bounded (<=) constraint: >= 0 at an optimum."""
    return float(model.dual.get(constraint, np.nan))


def certify_optimum(model: pyo.ConcreteModel, nlp: PyomoNLP | None = None) -> Certificate:
    """Certificate of the optimum held by a Problem (17) model (or a (16) model: same components), every
    per-user check one array operation (models/fedsllm_values.py); `nlp`: the PyNumero NLP of this model
    from its last solve, which the KKT residuals reuse instead of writing the model again."""
    values = DelayModelValues.read(model)
    T, n = values.T, values.local_iterations
    round_time = (1 - values.eta) * T / values.a
    residual19 = np.abs(values.time_fed_s + n * values.time_main_s - (round_time - values.compute_s)) / round_time
    needed_main = values.smashed_mbit / values.time_main_s
    needed_fed = values.upload_mbit / values.time_fed_s
    residual20 = np.abs(needed_main - values.rate_main_mbps) / needed_main
    residual21 = np.abs(needed_fed - values.rate_fed_mbps) / needed_fed
    slack = T - values.delays_s()
    rel = f"<= {RELATIVE_TOLERANCE:g}"
    per_user = [
        UserCheck("lemma3_eq19", residual19, "-", rel, residual19 <= RELATIVE_TOLERANCE,
                  "|t_c + v log2(1/eta) t_s - ((1-eta)T/a - tau)| / ((1-eta)T/a)"),
        UserCheck("lemma3_eq20", residual20, "-", rel, residual20 <= RELATIVE_TOLERANCE,
                  "|s/t_s - b_s log2(1 + g_s p_s/(N0 b_s))| / (s/t_s)"),
        UserCheck("lemma3_eq21", residual21, "-", rel, residual21 <= RELATIVE_TOLERANCE,
                  "|s_c/t_c - b_c log2(1 + g_c p_c/(N0 b_c))| / (s_c/t_c)"),
        UserCheck("slack_17a", slack, "s", f"|slack| <= {RELATIVE_TOLERANCE:g} T",
                  np.abs(slack) <= RELATIVE_TOLERANCE * T, "T - user delay; Lemma 3: zero"),
    ]
    for name, constraint, unit in (("lambda_17a", model.eq17a_delay, "-"),
                                   ("multiplier_17b", model.eq17b_rate_main, "s/(Mbit/s)"),
                                   ("multiplier_17c", model.eq17c_rate_fed, "s/(Mbit/s)")):
        multipliers = multipliers_of(model, constraint)
        per_user.append(UserCheck(name, multipliers, unit, "> 0", multipliers > 0,
                                  "Ipopt's multiplier of the constraint"))

    checks: list[Check] = []
    add = checks.append
    lambdas = per_user[4].values
    add(Check("sum_lambda_minus_1", "all", float(lambdas.sum() - 1), "-", rel,
              bool(abs(lambdas.sum() - 1) <= RELATIVE_TOLERANCE), "stationarity in T: sum_k lambda_k = 1"))
    add(Check("min_lambda", "all", float(lambdas.min()), "-", "> 0", bool(lambdas.min() > 0),
              "every user's (17a) has a positive multiplier"))
    for link, budget in (("main", model.eq17d_budget_main), ("fed", model.eq17e_budget_fed)):
        total = getattr(values, f"bandwidth_{link}_budget_mhz")
        slack = float(total - getattr(values, f"bandwidth_{link}_mhz").sum())
        add(Check(f"budget_{link}_slack", "all", slack, "MHz", f"|slack| <= {RELATIVE_TOLERANCE:g} B",
                  abs(slack) <= RELATIVE_TOLERANCE * total, f"unused bandwidth to the {link} server; Lemma 3: zero"))
        value = _multiplier(model, budget)
        add(Check(f"budget_{link}_multiplier", "all", value, "s/MHz", "> 0", bool(value > 0),
                  f"multiplier of the {link}-server bandwidth budget"))
    checks += kkt_residual_checks(model, nlp)
    return Certificate(checks, users=values.users, per_user=per_user)


def kkt_residual_checks(model: pyo.ConcreteModel, nlp: PyomoNLP | None = None) -> list[Check]:
    """Largest stationarity, complementarity and primal infeasibility, from exact derivatives at the
    model's values and multipliers (`nlp`: this model's NLP, built when not given)."""
    nlp = PyomoNLP(model) if nlp is None else nlp
    variables, constraints = nlp.get_pyomo_variables(), nlp.get_pyomo_constraints()
    x = np.array([v.value for v in variables], dtype=float)
    duals = np.array([model.dual.get(c, 0.0) for c in constraints], dtype=float)
    z_lower = np.array([model.ipopt_zL_out.get(v, 0.0) for v in variables], dtype=float)
    z_upper = np.array([model.ipopt_zU_out.get(v, 0.0) for v in variables], dtype=float)
    nlp.set_primals(x)
    nlp.set_duals(duals)
    gradient = nlp.evaluate_grad_objective() + nlp.evaluate_jacobian().transpose() @ duals - z_lower + z_upper
    worst_var = int(np.argmax(np.abs(gradient)))

    g, g_low, g_high = nlp.evaluate_constraints(), nlp.constraints_lb(), nlp.constraints_ub()
    x_low, x_high = nlp.primals_lb(), nlp.primals_ub()
    with np.errstate(invalid="ignore"):
        products = np.concatenate([
            np.where(np.isfinite(g_high), np.abs(np.maximum(duals, 0) * (g_high - g)), 0),
            np.where(np.isfinite(g_low), np.abs(np.minimum(duals, 0) * (g - g_low)), 0),
            np.where(np.isfinite(x_low), np.abs(z_lower * (x - x_low)), 0),
            np.where(np.isfinite(x_high), np.abs(z_upper * (x_high - x)), 0),
        ])
        violations = np.concatenate([g - g_high, g_low - g, x_low - x, x - x_high])
    violations = np.where(np.isfinite(violations), violations, 0)
    worst_con = int(np.argmax(violations))  # over the rows' upper and lower sides, then the bounds' lower and upper
    rows = len(constraints)
    con_label = (constraints[worst_con % rows] if worst_con < 2 * rows
                 else variables[(worst_con - 2 * rows) % len(variables)]).name
    stationarity = float(np.abs(gradient).max())
    complementarity = float(products.max())
    infeasibility = float(max(violations.max(), 0.0))
    return [
        Check("stationarity", "all", stationarity, "objective unit per variable unit", f"<= {KKT_TOLERANCE:g}",
              stationarity <= KKT_TOLERANCE,
              f"largest |d Lagrangian / dx| over all variables (at {variables[worst_var].name})"),
        Check("complementarity", "all", complementarity, "objective unit", f"<= {KKT_TOLERANCE:g}",
              complementarity <= KKT_TOLERANCE, "largest |multiplier x distance to its bound|"),
        Check("primal_infeasibility", "all", infeasibility, "constraint unit", f"<= {FEASIBILITY_TOLERANCE:g}",
              infeasibility <= FEASIBILITY_TOLERANCE, f"largest violation of a constraint or bound (at {con_label})"),
    ]


# --- The structured engine's bounds ---------------------------------------------------------------

FEASIBILITY_RELATIVE = 1e-12  # the structured allocation's budgets and delays, relative


def structured_bound_checks(result, gap_target: float) -> list[Check]:
    """The structured engine's gap at eta* and, when Ipopt re-solved the final point, that Ipopt's T is
    not below the proven lower bound (`result`: the EtaSearchResult)."""
    if not np.isfinite(result.best_lower_bound):
        return []
    checks = [Check("structured_gap", "all", result.best_gap, "-", f"<= {gap_target:g}", result.best_gap <= gap_target,
                    "(upper - lower) / upper of the structured engine at eta* (Lagrangian lower bound)")]
    if result.certified_by != "duality gap":
        below = (result.best_lower_bound - result.best.T) / result.best.T
        checks.append(Check("ipopt_above_lower_bound", "all", below, "-", f"<= {RELATIVE_TOLERANCE:g}",
                            below <= RELATIVE_TOLERANCE,
                            "(lower bound - Ipopt's T) / T at eta*: Ipopt's optimum respects the proven bound"))
    return checks


def certify_by_duality_gap(inputs, allocation, result, gap_target: float, client_share: float | None = None
                           ) -> Certificate:
    """Above solver.certify_max_users: the gap (`result`: the EtaSearchResult; None for Problem (16)'s
    optimum, whose bounds are its global search's), and the allocation checked feasible in numpy (budgets,
    every user's delay (15) within T at the client share A, rates (11) carrying the data in the upload times)."""
    scenario = SplitScenario.from_inputs(inputs, client_share)
    eta, T = allocation.eta, allocation.T
    main_hz, fed_hz = allocation.bandwidth_main_mhz * 1e6, allocation.bandwidth_fed_mhz * 1e6
    rate_main = rate_bps(main_hz, scenario.power_to_noise_main_hz)
    rate_fed = rate_bps(fed_hz, scenario.power_to_noise_fed_hz)
    rate_short = max(float(np.max(scenario.smashed_bits / allocation.time_main_s / rate_main - 1)),
                     float(np.max(scenario.upload_bits / allocation.time_fed_s / rate_fed - 1)))
    delays = scenario.user_delays_s(eta, allocation.time_main_s, allocation.time_fed_s)
    over_T = float(np.max(delays) / T - 1)
    over_main = float(main_hz.sum() / scenario.bandwidth_main_hz - 1)
    over_fed = float(fed_hz.sum() / scenario.bandwidth_fed_hz - 1)
    rel = f"<= {FEASIBILITY_RELATIVE:g}"
    checks = (structured_bound_checks(result, gap_target) if result is not None else []) + [
        Check("rates_carry_data", "all", rate_short, "-", rel, rate_short <= FEASIBILITY_RELATIVE,
              "largest (data / t) / rate - 1 over users and links, (17b)/(17c)"),
        Check("delay_within_T", "all", over_T, "-", rel, over_T <= FEASIBILITY_RELATIVE,
              "largest user delay (15) / T - 1, (17a)"),
        Check("budget_main", "all", over_main, "-", rel, over_main <= FEASIBILITY_RELATIVE, "sum b_s / B_s - 1, (17d)"),
        Check("budget_fed", "all", over_fed, "-", rel, over_fed <= FEASIBILITY_RELATIVE, "sum b_c / B_c - 1, (17e)"),
    ]
    return Certificate(checks, kind="duality gap")


def global_checks(result, reported_T: float) -> list[Check]:
    """The branch and bound over (0, 1) (`result`: a GlobalEtaResult, or None when it did not run): its gap,
    and Problem (17)'s reported T* (`reported_T`) not below its proven lower bound."""
    if result is None:
        return []
    below = (result.lower_bound - reported_T) / reported_T
    return [
        Check("global_over_eta", "all", result.gap, "-", f"<= {result.tolerance:g}", result.certified,
              f"(best T - smallest lower bound) / best T over every eta in (0, 1): {result.solves} solves, "
              f"{result.intervals} intervals, {result.status}"),
        Check("reported_above_global_bound", "all", below, "-", f"<= {RELATIVE_TOLERANCE:g}",
              below <= RELATIVE_TOLERANCE, "(global lower bound - Problem (17)'s T*) / T*"),
    ]


def problem16_global_checks(result, multistart_best=None, reported=None) -> list[Check]:
    """Problem (16)'s certified global optimum (`result`), and against it the Ipopt multistart's best and
    the reported optimum (Problem16Solutions, or None): the multistart stays as a cross-check, and a
    disagreement beyond tolerance is a FAIL."""
    if result is None:
        return []
    checks = [Check("problem16_global", "all", result.gap, "-", f"<= {result.tolerance:g}", result.certified,
                    f"(16) over every eta in (0, 1) and A in [A_min, A_max]: T = {result.T:.9g} s at eta = "
                    f"{result.eta:.6g}, A = {result.client_share:.6g}; {result.solves} etas, {result.status}")]
    for name, solution, meaning in (
            ("problem16_multistart_vs_global", multistart_best,
             "multistart best T / certified T - 1: the multistart's local optimum is the global one"),
            ("problem16_reported_vs_global", reported,
             "reported T / certified T - 1: the reported optimum lies within the certified bounds")):
        if solution is None:
            continue
        above = solution.T / result.T - 1
        below = (result.lower_bound - solution.T) / solution.T
        checks.append(Check(name, "all", above, "-", f"within [-{RELATIVE_TOLERANCE:g}, global tolerance]",
                            bool(above <= max(result.tolerance, RELATIVE_TOLERANCE) and below <= RELATIVE_TOLERANCE),
                            meaning))
    return checks
