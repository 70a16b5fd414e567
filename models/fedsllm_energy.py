"""FedsLLM Problem (E): the least energy of a training under a delay limit T_max (docs/fedsllm.md, "Energy").

minimise E = I0 sum_k (E1 + E2 + E3 + E4) over f_k, f_s, t, b (and the powers, eliminated) subject to
(Ea) T_k <= T_max, (16b)/(16c) tight, (16d)/(16e) budgets, (16f) clock and power caps; A = A_min.

The convex (log) form: the decisions are the logarithms of the clocks (GHz), upload times (s) and
bandwidths (MHz). Each power is eliminated at its rate constraint, p = p^max (b/c)(2^z - 1) with
c = g p^max / N0 and z = s / (t b) the spectral efficiency, so (16b)/(16c) hold with equality by
construction. In these variables every row is convex: the energies are kappa-weighted exponentials
and (N0 S/g) q(z) with q(z) = (2^z - 1)/z convex increasing and z the exponential of an affine
function; the power cap is log-convex (hence convex); the delay rows and budgets are sums of
exponentials. So Ipopt's local optimum at fixed eta is the global one.

eta enters only through the rounds I0 = a/(1-eta) and L = log2(1/eta); both are mutable Params so that
the search over eta can also set them apart (`set_relaxation`: a relaxation on an eta interval whose
optimum bounds E*(eta) on the whole interval from below, solvers/fedsllm/energy/bound.py).

Units: GHz, MHz, s, Mbit, mW and J; the rounds and L are dimensionless.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm import (
    BANDWIDTH_FLOOR_MHZ,
    CPU_FLOOR_GHZ,
    LINKS,
    TIME_FLOOR_S,
    _declare_data,
    _per_user,
    eq15_user_delay,
    eq17d_budget_main,
    eq17e_budget_fed,
)

u = pyo.units
LOG2 = math.log(2.0)
# kappa f^2 J per cycle with f in Hz is kappa * 1e27 J per gigacycle with f in GHz.
KAPPA_TO_MODEL = 1e27


# --- Quantities (one Expression each) ------------------------------------------------------------

def lemma2_local_iterations(m):
    """Lemma 2: local iterations per round n = v L, L = log2(1/eta)."""
    return m.v * m.log2_inverse_eta


def eq10_compute_time(m, k):
    """(10) tau_k = E_k L (A/f_k + (1 - A)/f_s) at the decided clocks f_k, f_s."""
    return m.compute_work[k] * m.log2_inverse_eta * (m.client_share / m.client_cpu[k]
                                                     + (1 - m.client_share) / m.server_cpu)


def exponential_of(log_var: str, unit):
    """A decision in the model's unit: f = e^(ln f), t = e^(ln t), b = e^(ln b)."""
    def rule(m, *index):
        return pyo.exp(getattr(m, log_var)[index] if index else getattr(m, log_var)) * unit
    return rule


def spectral_efficiency(link: str):
    """(16b)/(16c) tight: z_x,k = S_x / (t_x,k b_x,k), S_s = s, S_c = s_c (bit/s/Hz, as a number)."""
    data = "smashed_data" if link == "main" else "model_upload"

    def rule(m, k):
        return getattr(m, data) / (getattr(m, f"time_{link}")[k] * getattr(m, f"bandwidth_{link}")[k] * u.bit)
    rule.__name__ = f"efficiency_{link}"
    return rule


def least_power(link: str):
    """(16b)/(16c) tight, solved for the power: p = N0 b/g (2^z - 1) = p^max (b/c)(2^z - 1), c = g p^max/N0."""
    def rule(m, k):
        b = getattr(m, f"bandwidth_{link}")[k]
        return (getattr(m, f"power_{link}_max")[k] * b / getattr(m, f"power_to_noise_{link}")[k]
                * (pyo.exp(LOG2 * getattr(m, f"efficiency_{link}")[k]) - 1))
    return rule


def eqE1_energy_client(m, k):
    """(E1) client computation per round: kappa A E_k L f_k^2."""
    return m.kappa * m.client_share * m.compute_work[k] * m.log2_inverse_eta * m.client_cpu[k] ** 2


def eqE2_energy_server(m, k):
    """(E2) server computation for client k per round: kappa_s (1 - A) E_k L f_s^2."""
    return m.server_kappa * (1 - m.client_share) * m.compute_work[k] * m.log2_inverse_eta * m.server_cpu ** 2


def eqE3_energy_main(m, k):
    """(E3) smashed-data uploads per round: n p_s,k t_s,k (= n (N0 s/g) q(z), q(z) = (2^z - 1)/z)."""
    return u.convert(m.lemma2_local_iterations * m.eq16b_power_main[k] * m.time_main[k], to_units=u.J)


def eqE4_energy_fed(m, k):
    """(E4) client-model upload per round: p_c,k t_c,k."""
    return u.convert(m.eq16c_power_fed[k] * m.time_fed[k], to_units=u.J)


def eqE5_total_energy(m):
    """(E5) E = I0 sum_k (E1 + E2 + E3 + E4): the energy of a training."""
    return m.eq8_rounds * pyo.quicksum(m.eqE1_energy_client[k] + m.eqE2_energy_server[k] + m.eqE3_energy_main[k]
                                       + m.eqE4_energy_fed[k] for k in m.users)


# --- Rows (one rule each) ---------------------------------------------------------------------------

def eqEa_delay(m, k):
    """(Ea) T_k <= T_max: every user finishes within the delay limit (T_k of (15) at the decided clocks)."""
    return m.eq15_user_delay[k].expr <= m.max_delay


def eq16f_power_cap(link: str):
    """(16f) p_x,k <= p_x,k^max, with p the least power of (16b)/(16c)."""
    def rule(m, k):
        return getattr(m, f"eq16{'b' if link == 'main' else 'c'}_power_{link}")[k].expr <= \
            getattr(m, f"power_{link}_max")[k]
    rule.__name__ = f"eq16f_power_{link}"
    return rule


def log_bounds(low, high):
    """Bounds of a per-user log decision: ln(low) .. ln(high) (`high` a number, a function of (m, k), or None:
    unbounded above)."""
    def rule(m, k):
        top = high(m, k) if callable(high) else high
        return (math.log(low), None if top is None else math.log(top))
    return rule


# --- The problem -------------------------------------------------------------------------------------

def build_problem_e(inputs: FedsllmInputs, eta: float, max_delay_s: float) -> pyo.ConcreteModel:
    """Problem (E) at local accuracy `eta` and delay limit `max_delay_s`, in its convex (log) form;
    `set_eta`, `set_relaxation` and `fix_equal_split` change it in place."""
    p = inputs.parameters
    model = pyo.ConcreteModel(name="FedsLLM Problem (E)")
    _declare_data(model, inputs)
    model.eq8_rounds = pyo.Param(initialize=1.0, mutable=True, within=pyo.PositiveReals,
                                 doc="(8) global rounds I0 = a/(1-eta), set by set_eta (-)")
    model.log2_inverse_eta = pyo.Param(initialize=1.0, mutable=True, within=pyo.PositiveReals,
                                       doc="Lemma 2's L = log2(1/eta), set by set_eta (-)")
    model.max_delay = pyo.Param(initialize=max_delay_s, mutable=True, within=pyo.PositiveReals, units=u.s,
                                doc="(Ea) the delay limit T_max (s)")
    model.client_share = pyo.Param(initialize=p["client_share_min"], doc="client share A = A_min (-)")
    model.kappa = pyo.Param(initialize=p["kappa"] * KAPPA_TO_MODEL, units=u.J / (u.s * u.GHz ** 3),
                            doc="(E1) client energy coefficient kappa (J per gigacycle per GHz^2)")
    model.server_kappa = pyo.Param(initialize=p["server_kappa"] * KAPPA_TO_MODEL, units=u.J / (u.s * u.GHz ** 3),
                                   doc="(E2) server energy coefficient kappa_s (J per gigacycle per GHz^2)")
    model.client_cpu_max = pyo.Param(model.users, initialize=_per_user(model, inputs.column("cpu_max_hz") / 1e9),
                                     units=u.GHz, doc="f_k^max, in (16f) (GHz)")
    model.server_cpu_max = pyo.Param(initialize=p["server_cpu_max_hz"] / 1e9, units=u.GHz,
                                     doc="f_s^max, in (16f) (GHz)")
    for link, target in (("main", "main server"), ("fed", "fed server")):
        model.add_component(f"power_{link}_max", pyo.Param(
            model.users, initialize=_per_user(model, inputs.power_max_w(link) * 1e3), units=u.mW,
            doc=f"p^max to the {target}, in (16f) (mW)"))
        model.add_component(f"power_to_noise_{link}", pyo.Param(
            model.users, initialize=_per_user(model, inputs.power_to_noise_hz(link) / 1e6), units=u.MHz,
            doc=f"c = g p^max / N0 on the link to the {target}, in (11) (MHz)"))
    model.energy_scale = pyo.Param(initialize=1.0, mutable=True, within=pyo.PositiveReals, units=u.J,
                                   doc="the objective's unit: E of the starting point, so Ipopt sees E near 1 (J)")
    _declare_decisions(model)
    _declare_quantities(model)
    _declare_rows(model)
    set_eta(model, eta)
    return model


def _declare_decisions(model: pyo.ConcreteModel) -> None:
    users = model.users
    model.log_client_cpu = pyo.Var(users, bounds=log_bounds(CPU_FLOOR_GHZ, lambda m, k: pyo.value(m.client_cpu_max[k])),
                                   initialize=0.0, doc="ln(f_k / GHz), client clock; (16f) f_k <= f_k^max (-)")
    model.log_server_cpu = pyo.Var(bounds=(math.log(CPU_FLOOR_GHZ), math.log(pyo.value(model.server_cpu_max))),
                                   initialize=0.0, doc="ln(f_s / GHz), server clock; (16f) f_s <= f_s^max (-)")
    for link, target in (("main", "main server"), ("fed", "fed server")):
        model.add_component(f"log_time_{link}", pyo.Var(
            users, bounds=log_bounds(TIME_FLOOR_S, None), initialize=0.0,
            doc=f"ln(t / s), upload time to the {target}; (16h) t > 0 (-)"))
        budget = pyo.value(getattr(model, f"bandwidth_{link}_budget"))
        model.add_component(f"log_bandwidth_{link}", pyo.Var(
            users, bounds=log_bounds(BANDWIDTH_FLOOR_MHZ, budget), initialize=0.0,
            doc=f"ln(b / MHz), bandwidth to the {target}; (16h) b > 0 (-)"))


def _declare_quantities(model: pyo.ConcreteModel) -> None:
    users = model.users
    model.client_cpu = pyo.Expression(users, rule=exponential_of("log_client_cpu", u.GHz),
                                      doc="client clock f_k = e^(ln f_k) (GHz)")
    model.server_cpu = pyo.Expression(rule=exponential_of("log_server_cpu", u.GHz),
                                      doc="server clock f_s = e^(ln f_s) (GHz)")
    for link, index in (("main", "s"), ("fed", "c")):
        model.add_component(f"time_{link}", pyo.Expression(
            users, rule=exponential_of(f"log_time_{link}", u.s), doc=f"upload time t_{index},k (s)"))
        model.add_component(f"bandwidth_{link}", pyo.Expression(
            users, rule=exponential_of(f"log_bandwidth_{link}", u.MHz), doc=f"bandwidth b_{index},k (MHz)"))
        model.add_component(f"efficiency_{link}", pyo.Expression(
            users, rule=spectral_efficiency(link), doc=f"spectral efficiency z = S/(t_{index} b_{index}), "
                                                       f"(16{'b' if link == 'main' else 'c'}) tight (-)"))
    model.eq16b_power_main = pyo.Expression(users, rule=least_power("main"),
                                            doc="(16b) tight: least power to the main server p_s,k (mW)")
    model.eq16c_power_fed = pyo.Expression(users, rule=least_power("fed"),
                                           doc="(16c) tight: least power to the fed server p_c,k (mW)")
    model.lemma2_local_iterations = pyo.Expression(rule=lemma2_local_iterations,
                                                   doc="Lemma 2: local iterations per round n = v L (-)")
    model.eq10_compute_time = pyo.Expression(users, rule=eq10_compute_time,
                                             doc="(10) computation time per round tau_k (s)")
    model.eq15_user_delay = pyo.Expression(users, rule=eq15_user_delay, doc="(15) user k's total delay T_k (s)")
    model.eqE1_energy_client = pyo.Expression(users, rule=eqE1_energy_client,
                                              doc="(E1) client computation energy per round (J)")
    model.eqE2_energy_server = pyo.Expression(users, rule=eqE2_energy_server,
                                              doc="(E2) server computation energy for client k per round (J)")
    model.eqE3_energy_main = pyo.Expression(users, rule=eqE3_energy_main,
                                            doc="(E3) upload energy to the main server per round (J)")
    model.eqE4_energy_fed = pyo.Expression(users, rule=eqE4_energy_fed,
                                           doc="(E4) upload energy to the fed server per round (J)")
    model.eqE5_total_energy = pyo.Expression(rule=eqE5_total_energy, doc="(E5) energy of a training E (J)")


def _declare_rows(model: pyo.ConcreteModel) -> None:
    users = model.users
    model.eqEa_delay = pyo.Constraint(users, rule=eqEa_delay, doc="(Ea) user k finishes within T_max (s)")
    model.eq16f_power_main = pyo.Constraint(users, rule=eq16f_power_cap("main"),
                                            doc="(16f) power cap to the main server (mW)")
    model.eq16f_power_fed = pyo.Constraint(users, rule=eq16f_power_cap("fed"),
                                           doc="(16f) power cap to the fed server (mW)")
    model.eq16d_budget_main = pyo.Constraint(rule=eq17d_budget_main,
                                             doc="(16d) bandwidth budget of the main server (MHz)")
    model.eq16e_budget_fed = pyo.Constraint(rule=eq17e_budget_fed,
                                            doc="(16e) bandwidth budget of the fed server (MHz)")
    model.least_energy = pyo.Objective(expr=model.eqE5_total_energy / model.energy_scale, sense=pyo.minimize,
                                       doc="(E) minimise E, in units of energy_scale (-)")
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT_EXPORT,
                            doc="constraint multipliers from Ipopt (objective unit per constraint unit)")
    model.ipopt_zL_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable lower bounds from Ipopt (objective unit per variable unit)")
    model.ipopt_zU_out = pyo.Suffix(direction=pyo.Suffix.IMPORT,
                                    doc="multipliers of variable upper bounds from Ipopt (objective unit per variable unit)")


def relaxed_rounds_and_log2(a: float, low: float, high: float) -> tuple[float, float]:
    """(I0, L) of the relaxation on [low, high]: the problem depends on eta only through theta1 = I0 L and
    theta2 = I0 (the energy's and the delay's coefficients of computation and main uploads, and of fed
    uploads). theta2 = a/(1-eta) rises with eta and theta1 = a log2(1/eta)/(1-eta) falls (to a/ln 2 at
    eta = 1), and E*(theta) is non-decreasing in both (larger coefficients, tighter rows); so E*(eta) >= the
    optimum at theta2 = I0(low), theta1 = theta1(high) for every eta in the interval. Returns
    (I0(low), theta1(high) / I0(low))."""
    rounds_low = a / (1.0 - low)
    theta1_high = a / math.log(2.0) if high == 1.0 else a * math.log2(1.0 / high) / (1.0 - high)
    return rounds_low, theta1_high / rounds_low


def set_eta(model: pyo.ConcreteModel, eta: float) -> None:
    """Problem (E) at `eta`: I0 = a/(1-eta), L = log2(1/eta)."""
    set_relaxation(model, eta, eta)


def set_relaxation(model: pyo.ConcreteModel, low: float, high: float) -> None:
    """The relaxation of relaxed_rounds_and_log2 on [low, high], whose optimum bounds E*(eta) from below on
    the interval (low == high: Problem (E) at that eta; 0 <= low <= high <= 1)."""
    if not 0 <= low <= high <= 1 or low == 1 or high == 0:
        raise ValueError(f"an eta interval needs 0 <= low <= high <= 1 inside (0, 1), got [{low}, {high}]")
    rounds, log2_inverse = relaxed_rounds_and_log2(pyo.value(model.a), low, high)
    model.eq8_rounds.set_value(rounds)
    model.log2_inverse_eta.set_value(log2_inverse)


def fix_equal_split(model: pyo.ConcreteModel) -> None:
    """EB and BA: every user on B/K of both links (the bandwidths fixed, the budgets then idle)."""
    count = len(model.users)
    for link in LINKS:
        share = pyo.value(getattr(model, f"bandwidth_{link}_budget")) / count
        for k in model.users:
            getattr(model, f"log_bandwidth_{link}")[k].fix(math.log(share))
    model.eq16d_budget_main.deactivate()
    model.eq16e_budget_fed.deactivate()


def set_start(model: pyo.ConcreteModel, client_cpu_ghz, server_cpu_ghz: float, time_main_s, time_fed_s,
              bandwidth_main_mhz, bandwidth_fed_mhz) -> None:
    """A starting point from plain numbers (the fixed bandwidths of fix_equal_split are kept)."""
    values = {"log_client_cpu": client_cpu_ghz, "log_time_main": time_main_s, "log_time_fed": time_fed_s,
              "log_bandwidth_main": bandwidth_main_mhz, "log_bandwidth_fed": bandwidth_fed_mhz}
    for name, numbers in values.items():
        var = getattr(model, name)
        for k, number in zip(model.users, np.asarray(numbers, float)):
            if not var[k].fixed:
                low, high = var[k].bounds
                var[k].set_value(min(max(math.log(number), low), high if high is not None else math.inf))
    low, high = model.log_server_cpu.bounds
    model.log_server_cpu.set_value(min(max(math.log(server_cpu_ghz), low), high))
