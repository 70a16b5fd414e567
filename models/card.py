"""CARD's problems P1-P4 as Pyomo models (docs/card.md).

Components are named by the paper's equations (`eq<N>_<what>`, `p1_<what>`), as
in models/fedsllm.py, and every Expression calls the one definition of its
equation in data/card_costs.py, which Algorithm 1 evaluates too.

P1 (13) chooses, for every device and round (a "pair"), the cut layer c in 0..I
and the server clock f in [F_min, F_max]; P2 (14) is P1 for one pair. How the
Pyomo form differs from the paper's P1, and why:
- c is an integer; here it is one-hot binaries x[p, c] over the cuts
  (`p1_one_cut`), so each cut's cost U_c(f) (12) is its own smooth expression.
- P1's objective sum_p U(c_p, f_p) picks one U_c per pair; written as an
  epigraph, `cost[p] >= U_c(f[p]) - M_p (1 - x[p, c])` for every c
  (`p1_cost_epigraph`), with M_p the spread of U over all cuts and clocks (a
  big-M: the row binds only for the chosen cut). U_c is convex in f, so P1 is a
  convex MINLP and outer approximation is exact.
- Because every U_c depends on the one shared clock, linearising all these rows
  at each NLP point (MindtPy's `linearize_inactive`) tells the master every
  cut's cost there, and OA closes in a few iterations. (A convex-hull
  "perspective" form, x^2/f and f^2/x, has flat tangents at x = f = 0 and made
  OA visit the cuts one by one.)
- Scaling: clock in GHz, server work in s*GHz.
P3 (15) is P2 with the cut fixed (an NLP in the clock), P4 (17) is P2 with the
clock fixed (the cut chosen by enumeration in solvers/card.py).
"""

from __future__ import annotations

import pyomo.environ as pyo

from data.card_costs import (
    PairCosts,
    eq8_server_compute_s,
    eq10_delay_s,
    eq11_energy_j,
    eq12_cost,
)

u = pyo.units
# Lower end of the two-sided epigraph rows (see `p1_cost_epigraph`): far below any tangent of U,
# which is normalised and O(1), so it never binds.
EPIGRAPH_ROW_LOWER_BOUND = -1e6


def cost_bounds(pair: PairCosts) -> tuple[float, float]:
    """(lower, upper) bounds of U (12) over all cuts and clocks: U_c is convex in f (its maximum is at
    an end of the clock range) and each of its terms is bounded below by its own minimum over the range."""
    low_f, high_f = pair.clock_min_ghz, pair.clock_max_ghz
    upper = max(max(pair.cost(c, low_f), pair.cost(c, high_f)) for c in pair.cuts)
    delay_floor = eq10_delay_s(pair.device_compute_s, eq8_server_compute_s(pair.server_work, high_f), pair.transfer_s)
    energy_floor = eq11_energy_j(pair.power_coefficient, low_f, pair.server_work)
    lower = min(eq12_cost(pair.w, delay_floor, energy_floor, pair.delay_min, pair.delay_max, pair.energy_min,
                          pair.energy_max))
    return float(lower), float(upper)


# --- Paper quantities (one Expression each; the arithmetic is data/card_costs.py's) ----------

def eq8_server_compute(m, p, c):
    """(8) x T: the server's computation per round if pair p cuts at c, server_work / f (s)."""
    return eq8_server_compute_s(m.eq8_server_work[p, c], m.clock[p])


def eq10_delay(m, p, c):
    """(10) D = T (d^D + d^S) + D^V if pair p cuts at c (s)."""
    return eq10_delay_s(m.eq7_device_compute[p, c], m.eq8_server_compute[p, c], m.eq9_transfer[p, c])


def eq11_energy(m, p, c):
    """(11) E = T xi f^2 (eta - eta_D(c)) / (delta^S sigma^S) if pair p cuts at c (J)."""
    return eq11_energy_j(m.power_coefficient[p], m.clock[p], m.eq8_server_work[p, c])


def eq12_cost_if_cut(m, p, c):
    """(12) U_c(f) = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min) if pair p cuts at c (-)."""
    return eq12_cost(m.weight[p], m.eq10_delay[p, c], m.eq11_energy[p, c], m.delay_min[p], m.delay_max[p],
                     m.energy_min[p], m.energy_max[p])


# --- P1's constraints and objective (one rule each) --------------------------------------------

def p1_one_cut(m, p):
    """(13) c_p in {0, ..., I}: exactly one cut per pair, sum_c x[p, c] = 1."""
    return pyo.quicksum(m.cut_choice[p, c] for c in m.cuts) == 1


def p1_cost_epigraph(m, p, c):
    """(13) the objective's U(c_p, f_p) as an epigraph: cost[p] >= U_c(f_p) - M_p (1 - x[p, c]) for every c.

    Two-sided on purpose: MindtPy 6.10's linearize_inactive takes the lower-bound branch of every row,
    bounded below or not (an operator-precedence slip), and fails on a one-sided row.
    EPIGRAPH_ROW_LOWER_BOUND sits below every tangent of these rows over the variables' box."""
    return pyo.inequality(EPIGRAPH_ROW_LOWER_BOUND,
                          m.eq12_cost_if_cut[p, c] - m.big_m[p] * (1 - m.cut_choice[p, c]) - m.cost[p], 0)


def eq13_clock_bounds(m, p):
    """(13) F_min^{m,S} <= f <= F_max^S."""
    return (pyo.value(m.clock_min[p]), pyo.value(m.clock_max[p]))


def p1_total_cost(m):
    """(13) minimise sum over devices and rounds of U."""
    return pyo.quicksum(m.cost[p] for p in m.pairs)


# --- Problems ---------------------------------------------------------------------------------

def build_p1(pairs: list[PairCosts], name: str = "CARD P1") -> pyo.ConcreteModel:
    """P1 (13): all pairs at once, minimise the sum of their costs."""
    model = pyo.ConcreteModel(name=name)
    index = range(len(pairs))
    model.pairs = pyo.Set(initialize=list(index), ordered=True, doc="device-round pairs p (-)")
    model.cuts = pyo.Set(initialize=[int(c) for c in pairs[0].cuts], ordered=True, doc="cut layers c = 0..I (-)")
    grid = [(p, int(c)) for p in index for c in pairs[0].cuts]

    def per_cut(values):
        return {(p, c): float(values(pairs[p])[c]) for p, c in grid}

    def per_pair(attribute):
        return {p: getattr(pairs[p], attribute) for p in index}

    # Data
    model.eq7_device_compute = pyo.Param(model.pairs, model.cuts, initialize=per_cut(lambda q: q.device_compute_s),
                                         units=u.s, doc="(7) x T: device computation per round (s)")
    model.eq8_server_work = pyo.Param(model.pairs, model.cuts, initialize=per_cut(lambda q: q.server_work),
                                      units=u.s * u.GHz, doc="(8) x T at 1 GHz: server work per round (s*GHz)")
    model.eq9_transfer = pyo.Param(model.pairs, model.cuts, initialize=per_cut(lambda q: q.transfer_s), units=u.s,
                                   doc="(9) transmission delay per round D^V, with R = B y(SNR) (s)")
    model.power_coefficient = pyo.Param(model.pairs, initialize=per_pair("power_coefficient"),
                                        units=u.W / u.GHz**3, doc="(11) server GPU power coefficient xi, P = xi f^3 (W/GHz^3)")
    model.weight = pyo.Param(model.pairs, initialize=per_pair("w"), doc="(12) weight w of the delay in the cost (-)")
    for attribute, unit, text in (("delay_min", u.s, "(12) D_min: delay at c = 0, f = F_max (s)"),
                                  ("delay_max", u.s, "(12) D_max: delay at c = I, f = F_min (s)"),
                                  ("energy_min", u.J, "(12) E_min: energy at c = I, f = F_min (J)"),
                                  ("energy_max", u.J, "(12) E_max: energy at c = 0, f = F_max (J)")):
        model.add_component(attribute, pyo.Param(model.pairs, initialize=per_pair(attribute), units=unit, doc=text))
    model.clock_min = pyo.Param(model.pairs, initialize=per_pair("clock_min_ghz"), units=u.GHz,
                                doc="(13) F_min^{m,S} = f^D delta^D sigma^D / (delta^S sigma^S) (GHz)")
    model.clock_max = pyo.Param(model.pairs, initialize=per_pair("clock_max_ghz"), units=u.GHz,
                                doc="(13) F_max^S (GHz)")
    bounds = {p: cost_bounds(pairs[p]) for p in index}
    model.big_m = pyo.Param(model.pairs, initialize={p: bounds[p][1] - bounds[p][0] for p in index},
                            doc="big-M of the epigraph rows: upper minus lower bound of U (-)")

    # Decisions
    model.cut_choice = pyo.Var(model.pairs, model.cuts, within=pyo.Binary, initialize=0,
                               doc="(13) 1 if pair p cuts after layer c (-)")
    model.clock = pyo.Var(model.pairs, units=u.GHz, bounds=eq13_clock_bounds, initialize=per_pair("clock_max_ghz"),
                          doc="(13) server GPU clock f (GHz)")
    model.cost = pyo.Var(model.pairs, bounds=bounds, doc="epigraph of (12): normalised cost U of pair p (-)")

    # Quantities
    model.eq8_server_compute = pyo.Expression(model.pairs, model.cuts, rule=eq8_server_compute,
                                              doc="(8) x T: server computation per round at clock f (s)")
    model.eq10_delay = pyo.Expression(model.pairs, model.cuts, rule=eq10_delay,
                                      doc="(10) delay per round D(c, f) if pair p cuts at c (s)")
    model.eq11_energy = pyo.Expression(model.pairs, model.cuts, rule=eq11_energy,
                                       doc="(11) server energy per round E(c, f) if pair p cuts at c (J)")
    model.eq12_cost_if_cut = pyo.Expression(model.pairs, model.cuts, rule=eq12_cost_if_cut,
                                            doc="(12) normalised cost U_c(f) if pair p cuts at c (-)")

    # Constraints and objective
    model.p1_one_cut = pyo.Constraint(model.pairs, rule=p1_one_cut, doc="(13) each pair cuts at exactly one layer (-)")
    model.p1_cost_epigraph = pyo.Constraint(model.pairs, model.cuts, rule=p1_cost_epigraph,
                                            doc="(13) the chosen cut's cost U_c bounds cost[p] from below (-)")
    model.p1_total_cost = pyo.Objective(rule=p1_total_cost, sense=pyo.minimize,
                                        doc="(13) sum of the normalised costs (-)")
    return model


def set_choice(model: pyo.ConcreteModel, pair_index: int, cut: int, clock_ghz: float) -> None:
    """Set one pair's cut and clock as the model's values (a starting point)."""
    for c in model.cuts:
        model.cut_choice[pair_index, c].set_value(1 if c == cut else 0)
    model.clock[pair_index].set_value(clock_ghz)
    model.cost[pair_index].set_value(pyo.value(model.eq12_cost_if_cut[pair_index, cut]))


def build_p2(pair: PairCosts) -> pyo.ConcreteModel:
    """P2 (14): P1 for one device and round."""
    return build_p1([pair], name=f"CARD P2 (device {pair.device}, round {pair.round})")


def build_p3(pair: PairCosts, cut: int) -> pyo.ConcreteModel:
    """P3 (15): P2 with the cut fixed, a convex NLP in the clock."""
    model = build_p2(pair)
    model.name = f"CARD P3 (device {pair.device}, round {pair.round}, cut {cut})"
    for c in model.cuts:
        model.cut_choice[0, c].fix(1 if c == cut else 0)
    set_choice(model, 0, cut, pair.clock_max_ghz)
    model.cost[0].setlb(None)  # the bounds only serve the MINLP's big-M
    model.cost[0].setub(None)
    return model


def build_p4(pair: PairCosts, clock_ghz: float) -> pyo.ConcreteModel:
    """P4 (17): P2 with the clock fixed, a choice of cut."""
    model = build_p2(pair)
    model.name = f"CARD P4 (device {pair.device}, round {pair.round}, clock {clock_ghz:g} GHz)"
    model.clock[0].fix(clock_ghz)
    return model
