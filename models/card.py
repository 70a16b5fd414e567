"""CARD's problems P1-P4 as Pyomo models (spec: ../shared/spec/card.md).

P1 chooses, for every device and round (a "pair"), the cut layer c in 0..I and
the server clock f in [F_min, F_max]; P2 is P1 for one pair. The cut is an
integer decision through one-hot binaries x[p, c] over the profile rows; the
clock is continuous. The cost of each cut, U_c(f) = w (D(c, f) - D_min)/(D_max -
D_min) + (1 - w)(E(c, f) - E_min)/(E_max - E_min), is convex in f, and

    cost[p] >= U_c(f[p]) - M_p (1 - x[p, c])     for every c,

with M_p the spread of U over all cuts and clocks, makes P1 a convex MINLP:
outer approximation is exact. Because every U_c depends on the one shared
clock, linearising all of these rows at each NLP point (MindtPy's
`linearize_inactive`) tells the master every cut's cost there, and OA closes in
a few iterations. (A convex-hull "perspective" form, x^2/f and f^2/x, has flat
tangents at x = f = 0 and made OA visit the cuts one by one.)
P3 is P2 with the cut fixed (an NLP in the clock), P4 is P2 with the clock fixed
(the cut chosen by enumeration in solvers/card.py). Clock in GHz, work in s*GHz.
"""

from __future__ import annotations

import pyomo.environ as pyo

from data.card_costs import PairCosts

u = pyo.units
NEVER_BINDING = 1e6  # lower bound of the cost rows; far below any tangent of U (normalised, O(1))


def cost_bounds(pair: PairCosts) -> tuple[float, float]:
    """(lower, upper) bounds of U over all cuts and clocks: U_c is convex in f (its maximum is at an
    end of the clock range) and each of its terms is bounded below by its own minimum over the range."""
    low_f, high_f = pair.clock_min_ghz, pair.clock_max_ghz
    upper = max(max(pair.cost(c, low_f), pair.cost(c, high_f)) for c in pair.cuts)
    delay_floor = pair.device_compute_s + pair.server_work / high_f + pair.transfer_s
    energy_floor = pair.power_coefficient * low_f**2 * pair.server_work
    lower = min(pair.w * (delay_floor - pair.delay_min) / (pair.delay_max - pair.delay_min)
                + (1 - pair.w) * (energy_floor - pair.energy_min) / (pair.energy_max - pair.energy_min))
    return float(lower), float(upper)


def build_p1(pairs: list[PairCosts], name: str = "CARD P1") -> pyo.ConcreteModel:
    """All pairs at once: minimise the sum of their costs."""
    model = pyo.ConcreteModel(name=name)
    index = range(len(pairs))
    model.pairs = pyo.Set(initialize=list(index), ordered=True, doc="device-round pairs p (-)")
    model.cuts = pyo.Set(initialize=[int(c) for c in pairs[0].cuts], ordered=True, doc="cut layers c = 0..I (-)")
    grid = [(p, int(c)) for p in index for c in pairs[0].cuts]

    def table(values):
        return {(p, c): float(values(pairs[p])[c]) for p, c in grid}

    model.device_compute = pyo.Param(model.pairs, model.cuts, initialize=table(lambda q: q.device_compute_s),
                                     units=u.s, doc="device computation per round T eta_D(c)/(f^D delta^D sigma^D) (s)")
    model.server_work = pyo.Param(model.pairs, model.cuts, initialize=table(lambda q: q.server_work),
                                  units=u.s * u.GHz, doc="server work per round T (eta - eta_D(c))/(delta^S sigma^S) (s*GHz)")
    model.transfer = pyo.Param(model.pairs, model.cuts, initialize=table(lambda q: q.transfer_s), units=u.s,
                               doc="transmission delay per round D^V(c) (s)")
    model.power_coefficient = pyo.Param(model.pairs, initialize={p: pairs[p].power_coefficient for p in index},
                                        units=u.W / u.GHz**3, doc="server GPU power coefficient xi, P = xi f^3 (W/GHz^3)")
    model.weight = pyo.Param(model.pairs, initialize={p: pairs[p].w for p in index},
                             doc="weight w of the delay in the cost (-)")
    for attribute, unit, text in (("delay_min", u.s, "D_min: delay at c = 0, f = F_max (s)"),
                                  ("delay_max", u.s, "D_max: delay at c = I, f = F_min (s)"),
                                  ("energy_min", u.J, "E_min: energy at c = I, f = F_min (J)"),
                                  ("energy_max", u.J, "E_max: energy at c = 0, f = F_max (J)")):
        model.add_component(attribute, pyo.Param(
            model.pairs, initialize={p: getattr(pairs[p], attribute) for p in index}, units=unit, doc=text))
    bounds = {p: cost_bounds(pairs[p]) for p in index}
    model.big_m = pyo.Param(model.pairs, initialize={p: bounds[p][1] - bounds[p][0] for p in index},
                            doc="big-M of the cost rows: upper minus lower bound of U (-)")

    model.cut_choice = pyo.Var(model.pairs, model.cuts, within=pyo.Binary, initialize=0,
                               doc="1 if pair p cuts after layer c (-)")
    model.clock = pyo.Var(model.pairs, units=u.GHz, doc="server GPU clock f (GHz)",
                          bounds={p: (pairs[p].clock_min_ghz, pairs[p].clock_max_ghz) for p in index},
                          initialize={p: pairs[p].clock_max_ghz for p in index})
    model.cost = pyo.Var(model.pairs, bounds=bounds, doc="normalised cost U of pair p (-)")

    model.delay_if = pyo.Expression(
        model.pairs, model.cuts, doc="delay per round D(c, f) if pair p cuts at c (s)",
        rule=lambda m, p, c: m.device_compute[p, c] + m.server_work[p, c] / m.clock[p] + m.transfer[p, c])
    model.energy_if = pyo.Expression(
        model.pairs, model.cuts, doc="server energy per round E(c, f) if pair p cuts at c (J)",
        rule=lambda m, p, c: m.power_coefficient[p] * m.clock[p] ** 2 * m.server_work[p, c])
    model.cost_if = pyo.Expression(
        model.pairs, model.cuts, doc="normalised cost U_c(f) if pair p cuts at c (-)",
        rule=lambda m, p, c: m.weight[p] * (m.delay_if[p, c] - m.delay_min[p]) / (m.delay_max[p] - m.delay_min[p])
        + (1 - m.weight[p]) * (m.energy_if[p, c] - m.energy_min[p]) / (m.energy_max[p] - m.energy_min[p]))

    model.one_cut = pyo.Constraint(model.pairs, rule=lambda m, p: pyo.quicksum(m.cut_choice[p, c] for c in m.cuts) == 1,
                                   doc="each pair cuts at exactly one layer (-)")
    # Two-sided on purpose: MindtPy 6.10's linearize_inactive takes the lower-bound branch of every
    # row, bounded below or not (an operator-precedence slip), and fails on a one-sided row. The lower
    # bound sits below every tangent of these rows over the variables' box, so it never binds.
    model.cost_bound = pyo.Constraint(
        model.pairs, model.cuts, doc="the chosen cut's cost bounds U from below (-)",
        rule=lambda m, p, c: pyo.inequality(
            -NEVER_BINDING, m.cost_if[p, c] - m.big_m[p] * (1 - m.cut_choice[p, c]) - m.cost[p], 0))
    model.total_cost = pyo.Objective(expr=pyo.quicksum(model.cost[p] for p in model.pairs), sense=pyo.minimize,
                                     doc="sum of the normalised costs (-)")
    return model


def set_choice(model: pyo.ConcreteModel, pair_index: int, cut: int, clock_ghz: float) -> None:
    """Set one pair's cut and clock as the model's values (a starting point)."""
    for c in model.cuts:
        model.cut_choice[pair_index, c].set_value(1 if c == cut else 0)
    model.clock[pair_index].set_value(clock_ghz)
    model.cost[pair_index].set_value(pyo.value(model.cost_if[pair_index, cut]))


def build_p2(pair: PairCosts) -> pyo.ConcreteModel:
    """One device and round."""
    return build_p1([pair], name=f"CARD P2 (device {pair.device}, round {pair.round})")


def build_p3(pair: PairCosts, cut: int) -> pyo.ConcreteModel:
    """P2 with the cut fixed: a convex NLP in the clock."""
    model = build_p2(pair)
    model.name = f"CARD P3 (device {pair.device}, round {pair.round}, cut {cut})"
    for c in model.cuts:
        model.cut_choice[0, c].fix(1 if c == cut else 0)
    set_choice(model, 0, cut, pair.clock_max_ghz)
    model.cost[0].setlb(None)  # the bounds only serve the MINLP's big-M
    model.cost[0].setub(None)
    return model


def build_p4(pair: PairCosts, clock_ghz: float) -> pyo.ConcreteModel:
    """P2 with the clock fixed: a choice of cut."""
    model = build_p2(pair)
    model.name = f"CARD P4 (device {pair.device}, round {pair.round}, clock {clock_ghz:g} GHz)"
    model.clock[0].fix(clock_ghz)
    return model
