"""FedsLLM Problem (17) as a Pyomo model (spec: ../shared/spec/fedsllm.md).

For a fixed local accuracy eta, Problem (17) minimises the total training delay
T over the upload times and bandwidths of every user:

    (17a) a/(1-eta) (tau_k + t_c,k + v log2(1/eta) t_s,k) <= T
    (17b) s   / t_s,k <= b_s,k log2(1 + g_s,k p_s,k / (N0 b_s,k))
    (17c) s_c / t_c,k <= b_c,k log2(1 + g_c,k p_c,k / (N0 b_c,k))
    (17d) sum_k b_s,k <= B_s        (17e) sum_k b_c,k <= B_c

with tau_k = E_k log2(1/eta) (A_min/f_k^max + (1-A_min)/f_s^max) and E_k = v C_k D_k.
(17b)/(17c) are kept in this convex form (s/t convex, b log(1+c/b) concave).

Scaling: bandwidths are in MHz, times in s, data in Mbit, so Ipopt sees numbers
near 1. eta is a mutable Param: one model serves the whole eta search.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from data.fedsllm import FedsllmInputs

u = pyo.units
LOG2 = math.log(2.0)
# Lower bounds that keep s/t and log(1 + c/b) defined; far below any optimum.
TIME_FLOOR_S = 1e-9
BANDWIDTH_FLOOR_MHZ = 1e-9


def lemma_constants(parameters: dict[str, float]) -> tuple[float, float]:
    """(a, v) of Lemmas 1 and 2: a = 2L^2/(gamma^2 xi) ln(1/eps0), v = 2/((2 - L delta) delta gamma)."""
    L, gamma = parameters["L"], parameters["gamma"]
    xi, delta, eps0 = parameters["xi"], parameters["delta"], parameters["eps0"]
    a = 2.0 * L**2 / (gamma**2 * xi) * math.log(1.0 / eps0)
    v = 2.0 / ((2.0 - L * delta) * delta * gamma)
    return a, v


def build_problem17(inputs: FedsllmInputs, eta: float = 0.5) -> pyo.ConcreteModel:
    """Problem (17) for the users of `inputs` at local accuracy `eta` (changeable later)."""
    model = pyo.ConcreteModel(name="FedsLLM Problem (17)")
    _add_sets_and_parameters(model, inputs, eta)
    _add_derived_expressions(model)
    _add_variables(model)
    _add_constraints(model)
    model.total_delay = pyo.Objective(expr=model.T, sense=pyo.minimize, doc="total training delay T (s)")
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT_EXPORT,
                            doc="constraint multipliers from Ipopt, fed back as its next warm start "
                                "(objective unit per constraint unit)")
    set_equal_split_start(model)
    return model


def _add_sets_and_parameters(model: pyo.ConcreteModel, inputs: FedsllmInputs, eta: float) -> None:
    p = inputs.parameters
    a, v = lemma_constants(p)
    users = list(inputs.user_ids)
    model.users = pyo.Set(initialize=users, ordered=True, doc="users (clients) k (-)")

    def per_user(values) -> dict:
        return dict(zip(users, np.asarray(values, dtype=float).tolist()))

    model.eta = pyo.Param(initialize=eta, mutable=True, within=pyo.Reals, doc="local accuracy eta, 0 < eta < 1 (-)")
    model.a = pyo.Param(initialize=a, doc="Lemma 1 constant a = 2L^2/(gamma^2 xi) ln(1/eps0) (-)")
    model.v = pyo.Param(initialize=v, doc="Lemma 2 constant v = 2/((2 - L delta) delta gamma) (-)")
    model.compute_cycles = pyo.Param(
        model.users, initialize=per_user(v * inputs.column("cycles_per_sample") * inputs.column("samples")),
        doc="local work per unit of log2(1/eta), E_k = v C_k D_k (cycles)")
    model.client_cpu = pyo.Param(model.users, initialize=per_user(inputs.column("cpu_max_hz")), units=u.Hz,
                                 doc="client CPU frequency f_k^max (Hz)")
    model.server_cpu = pyo.Param(initialize=p["server_cpu_max_hz"], units=u.Hz,
                                 doc="main-server CPU frequency f_s^max (Hz)")
    model.client_share = pyo.Param(initialize=p["client_share_min"],
                                   doc="client share of the model A = A_min (-)")
    model.smashed_data = pyo.Param(initialize=p["smashed_bits"] / 1e6, units=u.Mbit,
                                   doc="smashed data per local iteration s (Mbit)")
    model.model_upload = pyo.Param(initialize=p["model_upload_bits"] / 1e6, units=u.Mbit,
                                   doc="client sub-network upload per round s_c (Mbit)")
    model.power_to_noise_main = pyo.Param(
        model.users, initialize=per_user(inputs.power_to_noise_hz("main") / 1e6), units=u.MHz,
        doc="g_s,k p_s,k^max / N0 on the link to the main server (MHz)")
    model.power_to_noise_fed = pyo.Param(
        model.users, initialize=per_user(inputs.power_to_noise_hz("fed") / 1e6), units=u.MHz,
        doc="g_c,k p_c,k^max / N0 on the link to the fed server (MHz)")
    model.bandwidth_main_budget = pyo.Param(initialize=p["bandwidth_main_hz"] / 1e6, units=u.MHz,
                                            doc="total bandwidth to the main server B_s (MHz)")
    model.bandwidth_fed_budget = pyo.Param(initialize=p["bandwidth_fed_hz"] / 1e6, units=u.MHz,
                                           doc="total bandwidth to the fed server B_c (MHz)")


def _add_derived_expressions(model: pyo.ConcreteModel) -> None:
    model.rounds = pyo.Expression(expr=model.a / (1 - model.eta), doc="global rounds I0 = a/(1-eta) (-)")
    model.local_iterations = pyo.Expression(
        expr=model.v * pyo.log(1 / model.eta) / LOG2, doc="local iterations per round v log2(1/eta) (-)")
    model.compute_time = pyo.Expression(
        model.users,
        rule=lambda m, k: m.compute_cycles[k] * pyo.log(1 / m.eta) / LOG2
        * (m.client_share / m.client_cpu[k] + (1 - m.client_share) / m.server_cpu),
        doc="computation time per round tau_k (s)")


def _add_variables(model: pyo.ConcreteModel) -> None:
    model.T = pyo.Var(within=pyo.NonNegativeReals, units=u.s, doc="total training delay T (s)")
    model.time_main = pyo.Var(model.users, bounds=(TIME_FLOOR_S, None), units=u.s,
                              doc="upload time of the smashed data to the main server t_s,k (s)")
    model.time_fed = pyo.Var(model.users, bounds=(TIME_FLOOR_S, None), units=u.s,
                             doc="upload time of the client model to the fed server t_c,k (s)")
    model.bandwidth_main = pyo.Var(model.users, bounds=(BANDWIDTH_FLOOR_MHZ, pyo.value(model.bandwidth_main_budget)),
                                   units=u.MHz, doc="bandwidth to the main server b_s,k (MHz)")
    model.bandwidth_fed = pyo.Var(model.users, bounds=(BANDWIDTH_FLOOR_MHZ, pyo.value(model.bandwidth_fed_budget)),
                                  units=u.MHz, doc="bandwidth to the fed server b_c,k (MHz)")


def rate_main(model, k):
    """Achievable rate to the main server b log2(1 + c/b) (Mbit/s)."""
    b = model.bandwidth_main[k]
    return b * pyo.log(1 + model.power_to_noise_main[k] / b) / LOG2 * u.bit


def rate_fed(model, k):
    """Achievable rate to the fed server b log2(1 + c/b) (Mbit/s)."""
    b = model.bandwidth_fed[k]
    return b * pyo.log(1 + model.power_to_noise_fed[k] / b) / LOG2 * u.bit


def user_delay(model, k):
    """Left side of (17a): user k's total delay over all rounds (s)."""
    return model.rounds * (model.compute_time[k] + model.time_fed[k] + model.local_iterations * model.time_main[k])


def _add_constraints(model: pyo.ConcreteModel) -> None:
    model.delay = pyo.Constraint(model.users, rule=lambda m, k: user_delay(m, k) <= m.T,
                                 doc="(17a) every user finishes within T (s)")
    model.rate_main_ok = pyo.Constraint(
        model.users, rule=lambda m, k: m.smashed_data / m.time_main[k] <= rate_main(m, k),
        doc="(17b) smashed data fits in t_s,k at the main-link rate (Mbit/s)")
    model.rate_fed_ok = pyo.Constraint(
        model.users, rule=lambda m, k: m.model_upload / m.time_fed[k] <= rate_fed(m, k),
        doc="(17c) client model fits in t_c,k at the fed-link rate (Mbit/s)")
    model.budget_main = pyo.Constraint(
        expr=pyo.quicksum(model.bandwidth_main[k] for k in model.users) <= model.bandwidth_main_budget,
        doc="(17d) bandwidth budget of the main server (MHz)")
    model.budget_fed = pyo.Constraint(
        expr=pyo.quicksum(model.bandwidth_fed[k] for k in model.users) <= model.bandwidth_fed_budget,
        doc="(17e) bandwidth budget of the fed server (MHz)")


def set_equal_split_start(model: pyo.ConcreteModel) -> None:
    """A feasible point: equal bandwidth shares, upload times at those rates, T just enough."""
    count = len(model.users)
    for k in model.users:
        model.bandwidth_main[k].set_value(pyo.value(model.bandwidth_main_budget) / count)
        model.bandwidth_fed[k].set_value(pyo.value(model.bandwidth_fed_budget) / count)
        model.time_main[k].set_value(pyo.value(model.smashed_data / rate_main(model, k)))
        model.time_fed[k].set_value(pyo.value(model.model_upload / rate_fed(model, k)))
    set_smallest_feasible_delay(model)


def set_smallest_feasible_delay(model: pyo.ConcreteModel) -> None:
    """T = the largest user delay at the current times and eta, so (17a) holds."""
    model.T.set_value(max(pyo.value(user_delay(model, k)) for k in model.users))
