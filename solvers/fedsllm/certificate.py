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

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

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


@dataclass
class Certificate:
    checks: list[Check]
    kind: str = "Lemma 3 / KKT"  # or "duality gap" (structured engine above solver.certify_max_users)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failing(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def verdict(self) -> str:
        if self.passed:
            return f"PASS ({len(self.checks)} checks)"
        names = ", ".join(f"{c.check}[{c.scope}]" for c in self.failing[:10])
        more = f" and {len(self.failing) - 10} more" if len(self.failing) > 10 else ""
        return f"FAIL: {names}{more}"


def _multiplier(model, constraint) -> float:
    """Ipopt's multiplier of an upper-bounded (<=) constraint: >= 0 at an optimum."""
    return float(model.dual.get(constraint, np.nan))


def certify_optimum(model: pyo.ConcreteModel) -> Certificate:
    """Certificate of the optimum held by a Problem (17) model (or a (16) model: same components)."""
    checks: list[Check] = []
    add = checks.append
    eta, T, a = pyo.value(model.eta), pyo.value(model.T), pyo.value(model.a)
    round_time = (1 - eta) * T / a
    n = pyo.value(model.lemma2_local_iterations)
    rel = f"<= {RELATIVE_TOLERANCE:g}"
    for k in model.users:
        t_main, t_fed = model.time_main[k].value, model.time_fed[k].value
        tau = pyo.value(model.eq10_compute_time[k])
        residual19 = abs(t_fed + n * t_main - (round_time - tau)) / round_time
        needed_main = pyo.value(model.smashed_data) / t_main
        needed_fed = pyo.value(model.model_upload) / t_fed
        residual20 = abs(needed_main - pyo.value(model.eq11_rate_main[k])) / needed_main
        residual21 = abs(needed_fed - pyo.value(model.eq11_rate_fed[k])) / needed_fed
        slack = T - pyo.value(model.eq15_user_delay[k])
        user = str(k)
        add(Check("lemma3_eq19", user, residual19, "-", rel, residual19 <= RELATIVE_TOLERANCE,
                  "|t_c + v log2(1/eta) t_s - ((1-eta)T/a - tau)| / ((1-eta)T/a)"))
        add(Check("lemma3_eq20", user, residual20, "-", rel, residual20 <= RELATIVE_TOLERANCE,
                  "|s/t_s - b_s log2(1 + g_s p_s/(N0 b_s))| / (s/t_s)"))
        add(Check("lemma3_eq21", user, residual21, "-", rel, residual21 <= RELATIVE_TOLERANCE,
                  "|s_c/t_c - b_c log2(1 + g_c p_c/(N0 b_c))| / (s_c/t_c)"))
        add(Check("slack_17a", user, slack, "s", f"|slack| <= {RELATIVE_TOLERANCE:g} T",
                  abs(slack) <= RELATIVE_TOLERANCE * T, "T - user delay; Lemma 3: zero"))
        for name, constraint, unit in (("lambda_17a", model.eq17a_delay[k], "-"),
                                       ("multiplier_17b", model.eq17b_rate_main[k], "s/(Mbit/s)"),
                                       ("multiplier_17c", model.eq17c_rate_fed[k], "s/(Mbit/s)")):
            value = _multiplier(model, constraint)
            add(Check(name, user, value, unit, "> 0", bool(value > 0), "Ipopt's multiplier of the constraint"))

    lambdas = np.array([_multiplier(model, model.eq17a_delay[k]) for k in model.users])
    add(Check("sum_lambda_minus_1", "all", float(lambdas.sum() - 1), "-", rel,
              abs(lambdas.sum() - 1) <= RELATIVE_TOLERANCE, "stationarity in T: sum_k lambda_k = 1"))
    add(Check("min_lambda", "all", float(lambdas.min()), "-", "> 0", bool(lambdas.min() > 0),
              "every user's (17a) has a positive multiplier"))
    for link, budget in (("main", model.eq17d_budget_main), ("fed", model.eq17e_budget_fed)):
        total = pyo.value(getattr(model, f"bandwidth_{link}_budget"))
        slack = total - sum(getattr(model, f"bandwidth_{link}")[k].value for k in model.users)
        add(Check(f"budget_{link}_slack", "all", slack, "MHz", f"|slack| <= {RELATIVE_TOLERANCE:g} B",
                  abs(slack) <= RELATIVE_TOLERANCE * total, f"unused bandwidth to the {link} server; Lemma 3: zero"))
        value = _multiplier(model, budget)
        add(Check(f"budget_{link}_multiplier", "all", value, "s/MHz", "> 0", bool(value > 0),
                  f"multiplier of the {link}-server bandwidth budget"))
    checks += kkt_residual_checks(model)
    return Certificate(checks)


def kkt_residual_checks(model: pyo.ConcreteModel) -> list[Check]:
    """Largest stationarity, complementarity and primal infeasibility, from exact derivatives."""
    nlp = PyomoNLP(model)
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
    names = [c.name for c in constraints]
    worst_con = int(np.argmax(violations))
    con_label = (names + names + [v.name for v in variables] * 2)[worst_con]
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


def certify_by_duality_gap(inputs, allocation, result, gap_target: float) -> Certificate:
    """Above solver.certify_max_users: the gap, and the allocation checked feasible in numpy (budgets,
    every user's delay (15) within T, rates (11) carrying the data in the upload times)."""
    scenario = SplitScenario.from_inputs(inputs)
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
    checks = structured_bound_checks(result, gap_target) + [
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


def problem16_global_checks(result, best16) -> list[Check]:
    """Problem (16)'s certified global optimum against the multistart's best (`best16`, a Problem16Solution
    or None): the multistart stays as a cross-check, and a disagreement beyond tolerance is a FAIL."""
    if result is None:
        return []
    checks = [Check("problem16_global", "all", result.gap, "-", f"<= {result.tolerance:g}", result.certified,
                    f"(16) over every eta in (0, 1) and A in [A_min, A_max]: T = {result.T:.9g} s at eta = "
                    f"{result.eta:.6g}, A = {result.client_share:.6g}; {result.solves} etas, {result.status}")]
    if best16 is not None:
        above = best16.T / result.T - 1
        below = (result.lower_bound - best16.T) / best16.T
        checks.append(Check("problem16_multistart_vs_global", "all", above, "-",
                            f"within [-{RELATIVE_TOLERANCE:g}, global tolerance]",
                            above <= max(result.tolerance, RELATIVE_TOLERANCE) and below <= RELATIVE_TOLERANCE,
                            "multistart best T / certified T - 1: the multistart's local optimum is the global one"))
    return checks
