"""Certificate of a Problem (E) optimum: the KKT conditions of the convex (log) form, the delay rows of
the binding users tight, and the allocation checked in plain numpy (budgets, power caps, clocks, rates,
delays and the energy itself recomputed from the spec's formulas).

Problem (E) at a fixed eta is convex in the logarithms (models/fedsllm_energy.py), so a KKT point is its
global optimum: the KKT residuals from PyNumero's exact derivatives (solvers.certificate) are the proof,
the numpy checks say the reported allocation is the one the proof is about.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from solvers.fedsllm.certificate import RELATIVE_TOLERANCE, Certificate, Check, kkt_residual_checks
from solvers.fedsllm.energy.scenario import EnergyAllocation, EnergyScenario, rates_bps, user_delays_s

FEASIBLE = 1e-9  # relative: budgets, caps, delays and rates of the reported allocation
BINDING_MULTIPLIER = 1e-9  # a delay row whose multiplier is above this (objective units per s) binds


def _multipliers(model, rows) -> np.ndarray:
    return np.array([float(model.dual.get(rows[k], np.nan)) for k in model.users])


def binding_users(model) -> np.ndarray:
    """Which users' delay rows (Ea) bind: Ipopt's multiplier positive."""
    return _multipliers(model, model.eqEa_delay) > BINDING_MULTIPLIER


def energy_model_checks(model) -> list[Check]:
    """Per binding user, the slack of its delay row; the count of binding users; the KKT residuals."""
    max_delay = pyo.value(model.max_delay)
    binding = binding_users(model)
    checks = []
    for bound, k in zip(binding, model.users):
        if bound:
            slack = max_delay - pyo.value(model.eq15_user_delay[k])
            checks.append(Check("delay_tight", str(k), slack, "s", f"|slack| <= {RELATIVE_TOLERANCE:g} T_max",
                                abs(slack) <= RELATIVE_TOLERANCE * max_delay,
                                "T_max - T_k of a user whose (Ea) binds (positive multiplier): zero"))
    multipliers = _multipliers(model, model.eqEa_delay)
    checks.append(Check("binding_users", "all", float(binding.sum()), "-", ">= 1", bool(binding.any()),
                        f"users whose (Ea) binds (multiplier > {BINDING_MULTIPLIER:g}); smallest multiplier "
                        f"{np.nanmin(multipliers):.3g}"))
    return checks + kkt_residual_checks(model)


def allocation_checks(scenario: EnergyScenario, allocation: EnergyAllocation, model_energy_j: float | None = None
                      ) -> list[Check]:
    """The allocation against the problem's rows, in numpy: (16d)/(16e) budgets, (16f) caps, (Ea) delays,
    (16b)/(16c) rates carrying the data, and the energy of the model (if given) recomputed."""
    split = scenario.split
    rel = f"<= {FEASIBLE:g}"
    rate_main, rate_fed = rates_bps(scenario, allocation)
    rate_short = max(float(np.max(split.smashed_bits / allocation.time_main_s / rate_main - 1)),
                     float(np.max(split.upload_bits / allocation.time_fed_s / rate_fed - 1)))
    over = {
        "budget_main": allocation.bandwidth_main_hz.sum() / split.bandwidth_main_hz - 1,
        "budget_fed": allocation.bandwidth_fed_hz.sum() / split.bandwidth_fed_hz - 1,
        "power_cap_main": np.max(allocation.power_main_w / scenario.power_main_max_w) - 1,
        "power_cap_fed": np.max(allocation.power_fed_w / scenario.power_fed_max_w) - 1,
        "client_clock_cap": np.max(allocation.client_cpu_hz / split.client_cpu_hz) - 1,
        "server_clock_cap": allocation.server_cpu_hz / split.server_cpu_hz - 1,
        "delay_within_T_max": np.max(user_delays_s(scenario, allocation)) / allocation.max_delay_s - 1,
    }
    meanings = {
        "budget_main": "sum b_s / B_s - 1, (16d)", "budget_fed": "sum b_c / B_c - 1, (16e)",
        "power_cap_main": "largest p_s / p_s^max - 1, (16f)", "power_cap_fed": "largest p_c / p_c^max - 1, (16f)",
        "client_clock_cap": "largest f_k / f_k^max - 1, (16f)", "server_clock_cap": "f_s / f_s^max - 1, (16f)",
        "delay_within_T_max": "largest T_k / T_max - 1, (Ea)",
    }
    checks = [Check(name, "all", float(value), "-", rel, bool(value <= FEASIBLE), meanings[name] + " (numpy)")
              for name, value in over.items()]
    checks.append(Check("rates_carry_data", "all", rate_short, "-", rel, rate_short <= FEASIBLE,
                        "largest (S / t) / rate - 1 at the reported powers, (16b)/(16c) (numpy)"))
    if model_energy_j is not None:
        difference = abs(model_energy_j / allocation.energy_j - 1)
        checks.append(Check("energy_recomputed", "all", difference, "-", rel, difference <= FEASIBLE,
                            "|E of the Pyomo model / E from the spec's formulas in numpy - 1|"))
    return checks


def certify_energy(scenario: EnergyScenario, reported: EnergyAllocation, final, model=None,
                   ipopt_allocation: EnergyAllocation | None = None, gap_target: float = 1e-9) -> Certificate:
    """The reported optimum: its allocation in numpy; the engine's bounds at eta* (`final`, an EnergyPoint
    with a lower bound from the structured engine); and, when Ipopt re-solved it (`model`), the KKT checks
    of the convex form, the energy of Ipopt's allocation recomputed, and Ipopt's energy against the bounds."""
    checks = allocation_checks(scenario, reported)
    kinds = []
    if np.isfinite(final.lower_bound_j):
        gap = max(0.0, (reported.energy_j - final.lower_bound_j) / reported.energy_j)
        checks.append(Check("structured_gap", "all", gap, "-", f"<= {gap_target:g}", gap <= gap_target,
                            "(E - lower bound) / E at eta*: the structured engine's duality gap (weak duality)"))
        kinds.append("duality gap")
    if model is not None:
        checks += energy_model_checks(model)
        checks += allocation_checks(scenario, ipopt_allocation, pyo.value(model.eqE5_total_energy))[-1:]
        difference = ipopt_allocation.energy_j / reported.energy_j - 1
        checks.append(Check("ipopt_agrees", "all", difference, "-", f"in [-{FEASIBLE:g}, {RELATIVE_TOLERANCE:g}]",
                            -FEASIBLE <= difference <= RELATIVE_TOLERANCE,
                            "Ipopt's E / the reported E - 1 at eta*: two solvers, one optimum"))
        kinds.insert(0, "KKT of the convex (log) form")
    return Certificate(checks, kind=" + ".join(kinds) or "numpy checks")
