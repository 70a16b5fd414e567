"""FedsLLM Problems (16) and (17) as Pyomo models (docs/fedsllm.md).

Every paper quantity is one named Expression and every paper constraint one
rule function, named by its equation number (`eq<N><letter>_<what>`), with the
equation in the rule's docstring. Both problems share one declaration block,
`_declare_delay_model`: Problem (17) holds eta, A, f, f_s and the powers as
Params, Problem (16) as Vars with the same component names, so one set of rules
serves both and the certificate reads either.

Scaling: bandwidth in MHz, time in s, data in Mbit, CPU clocks in GHz (work in
gigacycles, declared as s*GHz), powers in mW, so Ipopt sees numbers near 1.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs, lemma_constants
from models.fedsllm_values import DelayModelValues

u = pyo.units
LOG2 = math.log(2.0)
LINKS = ("main", "fed")  # main = to the main server (index s), fed = to the fed server (index c)
# Lower bounds that keep s/t, log(1 + c/b) and A/f defined; far below any optimum.
TIME_FLOOR_S = 1e-9
BANDWIDTH_FLOOR_MHZ = 1e-9
CPU_FLOOR_GHZ = 1e-6
POWER_FLOOR_MW = 1e-9
ETA_MARGIN = 1e-6  # Problem (16) keeps eta in [ETA_MARGIN, 1 - ETA_MARGIN]


def _per_user(model: pyo.ConcreteModel, values) -> dict:
    return dict(zip(model.users.ordered_data(), np.asarray(values, dtype=float).tolist()))


# --- Paper quantities (one Expression each) -------------------------------------------

def eq8_rounds(m):
    """(8) global rounds I0 = a / (1 - eta)."""
    return m.a / (1 - m.eta)


def lemma2_local_iterations(m):
    """Lemma 2: local iterations per round n(eta) = v log2(1/eta)."""
    return m.v * pyo.log(1 / m.eta) / LOG2


def eq10_compute_time(m, k):
    """(10) tau_k = E_k log2(1/eta) (A/f_k + (1 - A)/f_s), E_k = v C_k D_k."""
    return m.compute_work[k] * pyo.log(1 / m.eta) / LOG2 * (m.client_share / m.client_cpu[k]
                                                              + (1 - m.client_share) / m.server_cpu)


def eq11_rate(link: str):
    """(11) r_x,k = b_x,k log2(1 + g_x,k p_x,k / (N_x b_x,k)), x = s (main) or c (fed); Mbit/s."""
    def rule(m, k):
        b = getattr(m, f"bandwidth_{link}")[k]
        return b * pyo.log(1 + getattr(m, f"power_to_noise_{link}")[k] / b) / LOG2 * u.bit
    rule.__name__ = f"eq11_rate_{link}"
    return rule


def eq15_user_delay(m, k):
    """(15) T_k = I0 (tau_k + t_c,k + v log2(1/eta) t_s,k): the left side of (16a)/(17a)."""
    return m.eq8_rounds * (m.eq10_compute_time[k] + m.time_fed[k] + m.lemma2_local_iterations * m.time_main[k])


# --- Paper constraints (one rule each) ---------------------------------------------------
# A row that uses a per-user quantity takes its `.expr`: Pyomo's NL writer turns a
# referenced Expression into an AMPL "defined variable", which changes Ipopt's
# evaluation order; inlined, the rows are the same as written out by hand.

def eq17a_delay(m, k):
    """(17a) [(16a)] T_k <= T: every user finishes within T (the paper prints "<")."""
    return m.eq15_user_delay[k].expr <= m.T


def eq17b_rate_main(m, k):
    """(17b) [(16b), from (14)] s / t_s,k <= r_s,k: the smashed data fits in t_s,k.
    Written s/t <= r rather than t r >= s: s/t is convex and r concave, so the row is convex."""
    return m.smashed_data / m.time_main[k] <= m.eq11_rate_main[k].expr


def eq17c_rate_fed(m, k):
    """(17c) [(16c), from (13)] s_c / t_c,k <= r_c,k: the client model fits in t_c,k (convex form as (17b))."""
    return m.model_upload / m.time_fed[k] <= m.eq11_rate_fed[k].expr


def eq17d_budget_main(m):
    """(17d) [(16d), (12)] sum_k b_s,k <= B_s."""
    return pyo.quicksum(m.bandwidth_main[k] for k in m.users) <= m.bandwidth_main_budget


def eq17e_budget_fed(m):
    """(17e) [(16e), (12)] sum_k b_c,k <= B_c."""
    return pyo.quicksum(m.bandwidth_fed[k] for k in m.users) <= m.bandwidth_fed_budget


# Variable bounds: the paper's sign and box constraints are bounds, not rows, so
# Ipopt treats them as bounds. The floors keep s/t and log(1 + c/b) defined.

def eq17g_upload_time_bounds(m, k):
    """(17g) [(16h)] t_s,k, t_c,k >= 0 (floor TIME_FLOOR_S)."""
    return (TIME_FLOOR_S, None)


def eq17g_bandwidth_bounds(link: str):
    """(17g) [(16h)] 0 <= b_x,k (floor BANDWIDTH_FLOOR_MHZ); b_x,k <= B_x follows from (17d)/(17e)."""
    def rule(m, k):
        return (BANDWIDTH_FLOOR_MHZ, pyo.value(getattr(m, f"bandwidth_{link}_budget")))
    return rule


def eq16f_client_cpu_bounds(m, k):
    """(16f) 0 <= f_k <= f_k^max (floor CPU_FLOOR_GHZ)."""
    return (CPU_FLOOR_GHZ, pyo.value(m.client_cpu_max[k]))


def eq16f_server_cpu_bounds(m):
    """(16f) 0 <= f_s <= f_s^max (floor CPU_FLOOR_GHZ)."""
    return (CPU_FLOOR_GHZ, pyo.value(m.server_cpu_max))


def eq16f_power_bounds(link: str):
    """(16f) 0 <= p_x,k <= p_x,k^max (floor POWER_FLOOR_MW)."""
    def rule(m, k):
        return (POWER_FLOOR_MW, pyo.value(getattr(m, f"power_{link}_max")[k]))
    return rule


def eq16g_eta_bounds(m):
    """(16g) 0 < eta < 1, kept in [ETA_MARGIN, 1 - ETA_MARGIN]."""
    return (ETA_MARGIN, 1 - ETA_MARGIN)


def eq16g_client_share_bounds(m):
    """(16g) A_min <= A <= A_max."""
    return (pyo.value(m.client_share_min), pyo.value(m.client_share_max))


def eq17f_eta_open_interval(m, value, *index):
    """(17f) 0 < eta < 1 (eta is fixed in (17); this validates the value it is fixed at)."""
    return 0 < value < 1


# --- Problems ---------------------------------------------------------------------------

def build_problem17(inputs: FedsllmInputs, eta: float = 0.5, eta_as_variable: bool = False) -> pyo.ConcreteModel:
    """Problem (17) for the users of `inputs` at local accuracy `eta` (changeable later): f = f^max,
    f_s = f_s^max, p = p^max and A = A_min (Section III-E), so only T, t and b are decisions.

    `eta_as_variable`: eta is a Var held at `eta` by equal bounds instead of a mutable Param, so that
    an NLP written once (PyNumero's PyomoNLP) can be re-solved at another eta by moving the bounds;
    Ipopt treats a variable with equal bounds as a parameter (fixed_variable_treatment)."""
    model = pyo.ConcreteModel(name="FedsLLM Problem (17)")
    _declare_data(model, inputs)
    if eta_as_variable:
        if not eq17f_eta_open_interval(model, eta):
            raise ValueError(f"eta must lie in (0, 1), got {eta}")
        model.eta = pyo.Var(bounds=(eta, eta), initialize=eta,
                            doc="local accuracy eta, held by equal bounds; (17f) 0 < eta < 1 (-)")
    else:
        model.eta = pyo.Param(initialize=eta, mutable=True, within=pyo.Reals, validate=eq17f_eta_open_interval,
                              doc="local accuracy eta, fixed; (17f) 0 < eta < 1 (-)")
    model.client_share = pyo.Param(initialize=inputs.parameter("client_share_min"),
                                   doc="client share of the model A = A_min, Section III-E (-)")
    model.client_cpu = pyo.Param(model.users, initialize=_per_user(model, inputs.column("cpu_max_hz") / 1e9),
                                 units=u.GHz, doc="client CPU frequency f_k = f_k^max, Section III-E (GHz)")
    model.server_cpu = pyo.Param(initialize=inputs.parameter("server_cpu_max_hz") / 1e9, units=u.GHz,
                                 doc="main-server CPU frequency f_s = f_s^max, Section III-E (GHz)")
    for link, target in (("main", "main server"), ("fed", "fed server")):
        model.add_component(f"power_to_noise_{link}", pyo.Param(
            model.users, initialize=_per_user(model, inputs.power_to_noise_hz(link) / 1e6), units=u.MHz,
            doc=f"g p^max / N0 on the link to the {target}, in (11) (MHz)"))
    _declare_delay_model(model)
    set_equal_split_start(model)
    return model


def build_problem16(inputs: FedsllmInputs) -> pyo.ConcreteModel:
    """Problem (16): every decision of the paper (T, t, b, f, f_s, p_c, p_s, eta, A). Non-convex."""
    p = inputs.parameters
    model = pyo.ConcreteModel(name="FedsLLM Problem (16)")
    _declare_data(model, inputs)
    model.client_share_min = pyo.Param(initialize=p["client_share_min"], doc="A_min, in (16g) (-)")
    model.client_share_max = pyo.Param(initialize=p["client_share_max"], doc="A_max, in (16g) (-)")
    model.client_cpu_max = pyo.Param(model.users, initialize=_per_user(model, inputs.column("cpu_max_hz") / 1e9),
                                     units=u.GHz, doc="f_k^max, in (16f) (GHz)")
    model.server_cpu_max = pyo.Param(initialize=p["server_cpu_max_hz"] / 1e9, units=u.GHz,
                                     doc="f_s^max, in (16f) (GHz)")
    model.eta = pyo.Var(bounds=eq16g_eta_bounds, initialize=0.5, doc="local accuracy eta, (16g) (-)")
    model.client_share = pyo.Var(bounds=eq16g_client_share_bounds, initialize=p["client_share_min"],
                                 doc="client share of the model A, (16g) (-)")
    model.client_cpu = pyo.Var(model.users, units=u.GHz, bounds=eq16f_client_cpu_bounds,
                               doc="client CPU frequency f_k, (16f) (GHz)")
    model.server_cpu = pyo.Var(units=u.GHz, bounds=eq16f_server_cpu_bounds,
                               doc="main-server CPU frequency f_s, (16f) (GHz)")
    for link, target in (("main", "main server"), ("fed", "fed server")):
        model.add_component(f"power_{link}_max", pyo.Param(
            model.users, initialize=_per_user(model, inputs.power_max_w(link) * 1e3), units=u.mW,
            doc=f"p^max to the {target}, in (16f) (mW)"))
        model.add_component(f"power_{link}", pyo.Var(
            model.users, units=u.mW, bounds=eq16f_power_bounds(link),
            doc=f"transmit power to the {target} p_{'s' if link == 'main' else 'c'},k, (16f) (mW)"))
        model.add_component(f"gain_to_noise_{link}", pyo.Param(
            model.users, initialize=_per_user(model, inputs.gain_to_noise_hz_per_w(link) * 1e-9),
            units=u.MHz / u.mW, doc=f"g / N0 on the link to the {target}, in (11) (MHz/mW)"))
        model.add_component(f"power_to_noise_{link}", pyo.Expression(
            model.users, rule=lambda m, k, link=link: getattr(m, f"gain_to_noise_{link}")[k] * getattr(m, f"power_{link}")[k],
            doc=f"g p / N0 on the link to the {target}, in (11) (MHz)"))
    _declare_delay_model(model)
    return model


def _declare_data(model: pyo.ConcreteModel, inputs: FedsllmInputs) -> None:
    p = inputs.parameters
    a, v = lemma_constants(p)
    model.users = pyo.Set(initialize=list(inputs.user_ids), ordered=True, doc="users (clients) k (-)")
    model.a = pyo.Param(initialize=a, doc="(8) Lemma 1 constant a = 2L^2/(gamma^2 xi) ln(1/eps0) (-)")
    model.v = pyo.Param(initialize=v, doc="Lemma 2 constant v = 2/((2 - L delta) delta gamma) (-)")
    model.compute_work = pyo.Param(
        model.users, initialize=_per_user(model, v * inputs.column("cycles_per_sample") * inputs.column("samples") / 1e9),
        units=u.s * u.GHz, doc="(10) local work per unit of log2(1/eta), E_k = v C_k D_k (gigacycles, s*GHz)")
    model.smashed_data = pyo.Param(initialize=p["smashed_bits"] / 1e6, units=u.Mbit,
                                   doc="(14) smashed data per local iteration s (Mbit)")
    model.model_upload = pyo.Param(initialize=p["model_upload_bits"] / 1e6, units=u.Mbit,
                                   doc="(13) client sub-network upload per round s_c (Mbit)")
    model.bandwidth_main_budget = pyo.Param(initialize=p["bandwidth_main_hz"] / 1e6, units=u.MHz,
                                            doc="(12) total bandwidth to the main server B_s (MHz)")
    model.bandwidth_fed_budget = pyo.Param(initialize=p["bandwidth_fed_hz"] / 1e6, units=u.MHz,
                                           doc="(12) total bandwidth to the fed server B_c (MHz)")


def _declare_delay_model(model: pyo.ConcreteModel) -> None:
    """The decisions, quantities, constraints (a)-(g) and objective that (16) and (17) share."""
    # Decisions
    model.T = pyo.Var(within=pyo.NonNegativeReals, units=u.s, doc="total training delay T (s)")
    model.time_main = pyo.Var(model.users, bounds=eq17g_upload_time_bounds, units=u.s,
                              doc="upload time of the smashed data to the main server t_s,k, (17g) (s)")
    model.time_fed = pyo.Var(model.users, bounds=eq17g_upload_time_bounds, units=u.s,
                             doc="upload time of the client model to the fed server t_c,k, (17g) (s)")
    model.bandwidth_main = pyo.Var(model.users, bounds=eq17g_bandwidth_bounds("main"), units=u.MHz,
                                   doc="bandwidth to the main server b_s,k, (17g) (MHz)")
    model.bandwidth_fed = pyo.Var(model.users, bounds=eq17g_bandwidth_bounds("fed"), units=u.MHz,
                                  doc="bandwidth to the fed server b_c,k, (17g) (MHz)")

    # Quantities
    model.eq8_rounds = pyo.Expression(rule=eq8_rounds, doc="(8) global rounds I0 = a/(1-eta) (-)")
    model.lemma2_local_iterations = pyo.Expression(
        rule=lemma2_local_iterations, doc="Lemma 2: local iterations per round v log2(1/eta) (-)")
    model.eq10_compute_time = pyo.Expression(model.users, rule=eq10_compute_time,
                                             doc="(10) computation time per round tau_k (s)")
    model.eq11_rate_main = pyo.Expression(model.users, rule=eq11_rate("main"),
                                          doc="(11) rate to the main server r_s,k (Mbit/s)")
    model.eq11_rate_fed = pyo.Expression(model.users, rule=eq11_rate("fed"),
                                         doc="(11) rate to the fed server r_c,k (Mbit/s)")
    model.eq15_user_delay = pyo.Expression(model.users, rule=eq15_user_delay,
                                           doc="(15) user k's total delay T_k (s)")

    # Constraints
    model.eq17a_delay = pyo.Constraint(model.users, rule=eq17a_delay,
                                       doc="(17a)/(16a) every user finishes within T (s)")
    model.eq17b_rate_main = pyo.Constraint(model.users, rule=eq17b_rate_main,
                                           doc="(17b)/(16b) smashed data fits in t_s,k (Mbit/s)")
    model.eq17c_rate_fed = pyo.Constraint(model.users, rule=eq17c_rate_fed,
                                          doc="(17c)/(16c) client model fits in t_c,k (Mbit/s)")
    model.eq17d_budget_main = pyo.Constraint(rule=eq17d_budget_main,
                                             doc="(17d)/(16d) bandwidth budget of the main server (MHz)")
    model.eq17e_budget_fed = pyo.Constraint(rule=eq17e_budget_fed,
                                            doc="(17e)/(16e) bandwidth budget of the fed server (MHz)")

    # Objective and the multipliers Ipopt returns
    model.total_delay = pyo.Objective(expr=model.T, sense=pyo.minimize, doc="(17)/(16) minimise T (s)")
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT_EXPORT,
                            doc="constraint multipliers from Ipopt, fed back as its next warm start "
                                "(objective unit per constraint unit)")
    model.ipopt_zL_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable lower bounds from Ipopt (objective unit per variable unit)")
    model.ipopt_zU_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable upper bounds from Ipopt (objective unit per variable unit)")


def set_equal_split_start(model: pyo.ConcreteModel) -> None:
    """A feasible point: equal bandwidth shares, upload times at those rates (t = s / r), T just enough."""
    values = DelayModelValues.read(model)
    users, count = list(model.users.ordered_data()), len(model.users)
    main_mhz = np.full(count, values.bandwidth_main_budget_mhz / count)
    fed_mhz = np.full(count, values.bandwidth_fed_budget_mhz / count)
    model.bandwidth_main.set_values(dict(zip(users, main_mhz.tolist())))
    model.bandwidth_fed.set_values(dict(zip(users, fed_mhz.tolist())))
    values = replace(values, bandwidth_main_mhz=main_mhz, bandwidth_fed_mhz=fed_mhz)
    model.time_main.set_values(dict(zip(users, (values.smashed_mbit / values.rate_main_mbps).tolist())))
    model.time_fed.set_values(dict(zip(users, (values.upload_mbit / values.rate_fed_mbps).tolist())))
    set_smallest_feasible_delay(model)


def set_smallest_feasible_delay(model: pyo.ConcreteModel) -> None:
    """T = the largest user delay (15) at the current times and eta, so (17a) holds."""
    model.T.set_value(float(np.max(DelayModelValues.read(model).delays_s())))
