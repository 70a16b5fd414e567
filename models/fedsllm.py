"""FedsLLM Problems (16) and (17) as Pyomo models (spec: ../shared/spec/fedsllm.md).

Both share one delay model:

    (a) a/(1-eta) (tau_k + t_c,k + v log2(1/eta) t_s,k) <= T
    (b) s   / t_s,k <= b_s,k log2(1 + g_s,k p_s,k / (N0 b_s,k))
    (c) s_c / t_c,k <= b_c,k log2(1 + g_c,k p_c,k / (N0 b_c,k))
    (d) sum_k b_s,k <= B_s        (e) sum_k b_c,k <= B_c

with tau_k = E_k log2(1/eta) (A/f_k + (1-A)/f_s) and E_k = v C_k D_k.
Problem (17) fixes eta (a mutable Param: one model serves the whole eta search),
f = f^max, f_s = f_s^max, p = p^max and A = A_min. Problem (16) makes eta, A, f,
f_s and the powers decisions too (Vars with the same component names, so the
shared expressions and constraints serve both). (b)/(c) keep their convex form
(s/t is convex, b log(1 + c/b) is concave, jointly with p in (16)).

Scaling: bandwidth in MHz, time in s, data in Mbit, CPU clocks in GHz (work in
gigacycles, declared as s*GHz), powers in mW, so Ipopt sees numbers near 1.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from data.fedsllm import FedsllmInputs

u = pyo.units
LOG2 = math.log(2.0)
# Lower bounds that keep s/t, log(1 + c/b) and A/f defined; far below any optimum.
TIME_FLOOR_S = 1e-9
BANDWIDTH_FLOOR_MHZ = 1e-9
CPU_FLOOR_GHZ = 1e-6
POWER_FLOOR_MW = 1e-9
ETA_MARGIN = 1e-6  # Problem (16) keeps eta in [ETA_MARGIN, 1 - ETA_MARGIN]


def lemma_constants(parameters: dict[str, float]) -> tuple[float, float]:
    """(a, v) of Lemmas 1 and 2: a = 2L^2/(gamma^2 xi) ln(1/eps0), v = 2/((2 - L delta) delta gamma)."""
    L, gamma = parameters["L"], parameters["gamma"]
    xi, delta, eps0 = parameters["xi"], parameters["delta"], parameters["eps0"]
    a = 2.0 * L**2 / (gamma**2 * xi) * math.log(1.0 / eps0)
    v = 2.0 / ((2.0 - L * delta) * delta * gamma)
    return a, v


def _per_user(model: pyo.ConcreteModel, values) -> dict:
    return dict(zip(model.users.ordered_data(), np.asarray(values, dtype=float).tolist()))


def build_problem17(inputs: FedsllmInputs, eta: float = 0.5) -> pyo.ConcreteModel:
    """Problem (17) for the users of `inputs` at local accuracy `eta` (changeable later)."""
    model = pyo.ConcreteModel(name="FedsLLM Problem (17)")
    _add_common_data(model, inputs)
    model.eta = pyo.Param(initialize=eta, mutable=True, within=pyo.Reals, doc="local accuracy eta, 0 < eta < 1 (-)")
    model.client_share = pyo.Param(initialize=inputs.parameter("client_share_min"),
                                   doc="client share of the model A = A_min (-)")
    model.client_cpu = pyo.Param(model.users, initialize=_per_user(model, inputs.column("cpu_max_hz") / 1e9),
                                 units=u.GHz, doc="client CPU frequency f_k = f_k^max (GHz)")
    model.server_cpu = pyo.Param(initialize=inputs.parameter("server_cpu_max_hz") / 1e9, units=u.GHz,
                                 doc="main-server CPU frequency f_s = f_s^max (GHz)")
    model.power_to_noise_main = pyo.Param(
        model.users, initialize=_per_user(model, inputs.power_to_noise_hz("main") / 1e6), units=u.MHz,
        doc="g_s,k p_s,k^max / N0 on the link to the main server (MHz)")
    model.power_to_noise_fed = pyo.Param(
        model.users, initialize=_per_user(model, inputs.power_to_noise_hz("fed") / 1e6), units=u.MHz,
        doc="g_c,k p_c,k^max / N0 on the link to the fed server (MHz)")
    _add_delay_model(model)
    set_equal_split_start(model)
    return model


def build_problem16(inputs: FedsllmInputs) -> pyo.ConcreteModel:
    """Problem (16): every decision of the paper (T, t, b, f, f_s, p_c, p_s, eta, A). Non-convex."""
    p = inputs.parameters
    model = pyo.ConcreteModel(name="FedsLLM Problem (16)")
    _add_common_data(model, inputs)
    cpu_max_ghz = inputs.column("cpu_max_hz") / 1e9
    model.eta = pyo.Var(bounds=(ETA_MARGIN, 1 - ETA_MARGIN), initialize=0.5, doc="local accuracy eta (-)")
    model.client_share = pyo.Var(bounds=(p["client_share_min"], p["client_share_max"]),
                                 initialize=p["client_share_min"], doc="client share of the model A (-)")
    model.client_cpu = pyo.Var(model.users, units=u.GHz, doc="client CPU frequency f_k (GHz)",
                               bounds=lambda m, k: (CPU_FLOOR_GHZ, _per_user(m, cpu_max_ghz)[k]))
    model.server_cpu = pyo.Var(bounds=(CPU_FLOOR_GHZ, p["server_cpu_max_hz"] / 1e9), units=u.GHz,
                               doc="main-server CPU frequency f_s (GHz)")
    for link, target in (("main", "main server"), ("fed", "fed server")):
        power_max_mw = _per_user(model, inputs.power_max_w(link) * 1e3)
        model.add_component(f"power_{link}", pyo.Var(
            model.users, units=u.mW, bounds=lambda m, k, top=power_max_mw: (POWER_FLOOR_MW, top[k]),
            doc=f"transmit power to the {target} p_{link[0]},k (mW)"))
        model.add_component(f"gain_to_noise_{link}", pyo.Param(
            model.users, initialize=_per_user(model, inputs.gain_to_noise_hz_per_w(link) * 1e-9),
            units=u.MHz / u.mW, doc=f"g / N0 on the link to the {target} (MHz/mW)"))
        model.add_component(f"power_to_noise_{link}", pyo.Expression(
            model.users, rule=lambda m, k, link=link: getattr(m, f"gain_to_noise_{link}")[k] * getattr(m, f"power_{link}")[k],
            doc=f"g p / N0 on the link to the {target} (MHz)"))
    _add_delay_model(model)
    return model


def _add_common_data(model: pyo.ConcreteModel, inputs: FedsllmInputs) -> None:
    p = inputs.parameters
    a, v = lemma_constants(p)
    model.users = pyo.Set(initialize=list(inputs.user_ids), ordered=True, doc="users (clients) k (-)")
    model.a = pyo.Param(initialize=a, doc="Lemma 1 constant a = 2L^2/(gamma^2 xi) ln(1/eps0) (-)")
    model.v = pyo.Param(initialize=v, doc="Lemma 2 constant v = 2/((2 - L delta) delta gamma) (-)")
    model.compute_work = pyo.Param(
        model.users, initialize=_per_user(model, v * inputs.column("cycles_per_sample") * inputs.column("samples") / 1e9),
        units=u.s * u.GHz, doc="local work per unit of log2(1/eta), E_k = v C_k D_k (gigacycles, s*GHz)")
    model.smashed_data = pyo.Param(initialize=p["smashed_bits"] / 1e6, units=u.Mbit,
                                   doc="smashed data per local iteration s (Mbit)")
    model.model_upload = pyo.Param(initialize=p["model_upload_bits"] / 1e6, units=u.Mbit,
                                   doc="client sub-network upload per round s_c (Mbit)")
    model.bandwidth_main_budget = pyo.Param(initialize=p["bandwidth_main_hz"] / 1e6, units=u.MHz,
                                            doc="total bandwidth to the main server B_s (MHz)")
    model.bandwidth_fed_budget = pyo.Param(initialize=p["bandwidth_fed_hz"] / 1e6, units=u.MHz,
                                           doc="total bandwidth to the fed server B_c (MHz)")


def _add_delay_model(model: pyo.ConcreteModel) -> None:
    """Expressions, variables, constraints (a)-(e), objective and suffixes shared by (16) and (17)."""
    model.rounds = pyo.Expression(expr=model.a / (1 - model.eta), doc="global rounds I0 = a/(1-eta) (-)")
    model.local_iterations = pyo.Expression(
        expr=model.v * pyo.log(1 / model.eta) / LOG2, doc="local iterations per round v log2(1/eta) (-)")
    model.compute_time = pyo.Expression(
        model.users,
        rule=lambda m, k: m.compute_work[k] * pyo.log(1 / m.eta) / LOG2
        * (m.client_share / m.client_cpu[k] + (1 - m.client_share) / m.server_cpu),
        doc="computation time per round tau_k (s)")

    model.T = pyo.Var(within=pyo.NonNegativeReals, units=u.s, doc="total training delay T (s)")
    model.time_main = pyo.Var(model.users, bounds=(TIME_FLOOR_S, None), units=u.s,
                              doc="upload time of the smashed data to the main server t_s,k (s)")
    model.time_fed = pyo.Var(model.users, bounds=(TIME_FLOOR_S, None), units=u.s,
                             doc="upload time of the client model to the fed server t_c,k (s)")
    model.bandwidth_main = pyo.Var(model.users, bounds=(BANDWIDTH_FLOOR_MHZ, pyo.value(model.bandwidth_main_budget)),
                                   units=u.MHz, doc="bandwidth to the main server b_s,k (MHz)")
    model.bandwidth_fed = pyo.Var(model.users, bounds=(BANDWIDTH_FLOOR_MHZ, pyo.value(model.bandwidth_fed_budget)),
                                  units=u.MHz, doc="bandwidth to the fed server b_c,k (MHz)")

    model.delay = pyo.Constraint(model.users, rule=lambda m, k: user_delay(m, k) <= m.T,
                                 doc="(17a)/(16a) every user finishes within T (s)")
    model.rate_main_ok = pyo.Constraint(
        model.users, rule=lambda m, k: m.smashed_data / m.time_main[k] <= rate_main(m, k),
        doc="(17b)/(16b) smashed data fits in t_s,k at the main-link rate (Mbit/s)")
    model.rate_fed_ok = pyo.Constraint(
        model.users, rule=lambda m, k: m.model_upload / m.time_fed[k] <= rate_fed(m, k),
        doc="(17c)/(16c) client model fits in t_c,k at the fed-link rate (Mbit/s)")
    model.budget_main = pyo.Constraint(
        expr=pyo.quicksum(model.bandwidth_main[k] for k in model.users) <= model.bandwidth_main_budget,
        doc="(17d)/(16d) bandwidth budget of the main server (MHz)")
    model.budget_fed = pyo.Constraint(
        expr=pyo.quicksum(model.bandwidth_fed[k] for k in model.users) <= model.bandwidth_fed_budget,
        doc="(17e)/(16e) bandwidth budget of the fed server (MHz)")

    model.total_delay = pyo.Objective(expr=model.T, sense=pyo.minimize, doc="total training delay T (s)")
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT_EXPORT,
                            doc="constraint multipliers from Ipopt, fed back as its next warm start "
                                "(objective unit per constraint unit)")
    model.ipopt_zL_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable lower bounds from Ipopt (objective unit per variable unit)")
    model.ipopt_zU_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable upper bounds from Ipopt (objective unit per variable unit)")


def rate_main(model, k):
    """Achievable rate to the main server b log2(1 + c/b) (Mbit/s)."""
    b = model.bandwidth_main[k]
    return b * pyo.log(1 + model.power_to_noise_main[k] / b) / LOG2 * u.bit


def rate_fed(model, k):
    """Achievable rate to the fed server b log2(1 + c/b) (Mbit/s)."""
    b = model.bandwidth_fed[k]
    return b * pyo.log(1 + model.power_to_noise_fed[k] / b) / LOG2 * u.bit


def user_delay(model, k):
    """Left side of (a): user k's total delay over all rounds (s)."""
    return model.rounds * (model.compute_time[k] + model.time_fed[k] + model.local_iterations * model.time_main[k])


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
    """T = the largest user delay at the current times and eta, so (a) holds."""
    model.T.set_value(max(pyo.value(user_delay(model, k)) for k in model.users))
