"""CARD's problems P1-P4 as Pyomo models (docs/card.md).

Components are named by the paper's equations (`eq<N>_<what>`, `p1_<what>`), as
in models/fedsllm.py, and every Expression calls the one definition of its
equation in data/card/costs.py, which Algorithm 1 evaluates too.

P1 (13) chooses, for every device and round (a "pair"), the cut layer c in 0..I
and the server clock f in [F_min, F_max]; P2 (14) is P1 for one pair. How the
Pyomo form differs from the paper's P1, and why:
- c is an integer; here it is one-hot binaries x[p, c] over the cuts
  (`p1_one_cut`), so each cut's cost U_c(f) (12) is its own smooth expression.
- P1's objective sum_p U(c_p, f_p) picks one U_c per pair; written as an
  epigraph, `cost[p] >= U_c(f[p]) - M_pc (1 - x[p, c])` for every c
  (`p1_cost_epigraph`), with M_pc the spread between U_c's largest value over
  the clock range and the least U of the pair (a big-M per cut: the row binds
  only for the chosen cut). U_c is convex in f, so P1 is a convex MINLP.
  Measured with SCIP 10 on the default 100 device-rounds (bench/card_minlp.py):
  this form proves optimality in about 19 s; one M per pair (the spread over all
  cuts) took 50 s, a hand-written hull (disaggregated 1/f and f^2 per cut) 2x
  slower than that, and the cost written directly as sum_c x_c U_c(f) did not
  finish 20 device-rounds in 60 s.
- Rows are one-sided for SCIP (a two-sided row makes SCIP treat the convex row
  as nonconvex and took 2.3x longer) and two-sided for MindtPy 6.10, whose
  `linearize_inactive` takes the lower-bound branch of every row (an
  operator-precedence slip) and fails on a one-sided one.
- The perspective form (`form="perspective"`), the convex hull of each pair's
  choice: the clock is split over the cuts, f = sum_c f_pc with
  F_min x_pc <= f_pc <= F_max x_pc, and each cut's 1/f and f^2 become the
  rotated cones r_pc f_pc >= x_pc^2 and q_pc x_pc >= f_pc^2, so that
  D = sum_c ((T d^D + D^V)_c x_pc + server_work_c r_pc) and
  E = xi sum_c server_work_c q_pc are exact at a binary x and as tight as any
  convex relaxation between. With one clock per round the big-M form left SCIP
  branching for minutes on 5 devices; this form proves a round in about 2 s.
  For one clock per pair the big-M form proves faster (19 s against 25 s on 100
  device-rounds), so each variant uses its own.
- Because every U_c depends on the one shared clock, linearising all these rows
  at each NLP point (MindtPy's `linearize_inactive`) tells the master every
  cut's cost there, and OA closes in a few iterations. (A convex-hull
  "perspective" form, x^2/f and f^2/x, has flat tangents at x = f = 0 and made
  OA visit the cuts one by one.)
- The clock is indexed by "clock groups": one per pair in the paper's P1
  (`server_clock=per_device`), one per round in the per-round variant (one GPU
  runs at one clock while it serves the round's devices), where the clock's
  lower bound is the largest F_min of the round's devices. Its lower bound is
  always strictly positive, since SCIP rewrites 1/f.
- Scaling: clock in GHz, server work in s*GHz.
P3 (15) is P2 with the cut fixed (an NLP in the clock), P4 (17) is P2 with the
clock fixed (the cut chosen by enumeration in solvers/card/).
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from data.card.costs import PairCosts, eq8_server_compute_s, eq10_delay_s, eq11_energy_j, eq12_cost

u = pyo.units
# Lower end of the two-sided epigraph rows (see `p1_cost_epigraph`): far below any tangent of U,
# which is normalised and O(1), so it never binds.
EPIGRAPH_ROW_LOWER_BOUND = -1e6
# The clock's lower bound is at least this (GHz): SCIP rewrites 1/f and needs f > 0.
CLOCK_FLOOR_GHZ = 1e-3


def cost_bounds(pair: PairCosts, clock_min_ghz: float | None = None) -> tuple[float, float]:
    """(lower, upper) bounds of U (12) over all cuts and clocks in [clock_min_ghz (default F_min), F_max]:
    U_c is convex in f (its maximum is at an end of the clock range) and each of its terms is bounded
    below by its own minimum over the range."""
    low_f, high_f = clock_min_ghz or pair.clock_min_ghz, pair.clock_max_ghz
    upper = max(cut_cost_maxima(pair, low_f))
    delay_floor = eq10_delay_s(pair.device_compute_s, eq8_server_compute_s(pair.server_work, high_f), pair.transfer_s)
    energy_floor = eq11_energy_j(pair.power_coefficient, low_f, pair.server_work)
    lower = min(eq12_cost(pair.w, delay_floor, energy_floor, pair.delay_min, pair.delay_max, pair.energy_min,
                          pair.energy_max))
    return float(lower), float(upper)


def cut_cost_maxima(pair: PairCosts, clock_min_ghz: float) -> list[float]:
    """Each cut's largest U_c (12) over [clock_min_ghz, F_max]: U_c is convex in f, so at an end."""
    return [float(max(pair.cost(c, clock_min_ghz), pair.cost(c, pair.clock_max_ghz))) for c in pair.cuts]


# --- Paper quantities (one Expression each; the arithmetic is data/card/costs.py's) ----------

def pair_clock(m, p):
    """The server clock that serves pair p: its own (the paper's P1) or its round's (per-round variant)."""
    return m.clock[m.clock_of[p]]


def eq8_server_compute(m, p, c):
    """(8) x T: the server's computation per round if pair p cuts at c, server_work / f (s)."""
    return eq8_server_compute_s(m.eq8_server_work[p, c], pair_clock(m, p))


def eq10_delay(m, p, c):
    """(10) D = T (d^D + d^S) + D^V if pair p cuts at c (s)."""
    return eq10_delay_s(m.eq7_device_compute[p, c], m.eq8_server_compute[p, c], m.eq9_transfer[p, c])


def eq11_energy(m, p, c):
    """(11) E = T xi f^2 (eta - eta_D(c)) / (delta^S sigma^S) if pair p cuts at c (J)."""
    return eq11_energy_j(m.power_coefficient[p], pair_clock(m, p), m.eq8_server_work[p, c])


def eq12_cost_if_cut(m, p, c):
    """(12) U_c(f) = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min) if pair p cuts at c (-)."""
    return eq12_cost(m.weight[p], m.eq10_delay[p, c], m.eq11_energy[p, c], m.delay_min[p], m.delay_max[p],
                     m.energy_min[p], m.energy_max[p])


# --- P1's constraints and objective (one rule each) --------------------------------------------

def p1_one_cut(m, p):
    """(13) c_p in {0, ..., I}: exactly one cut per pair, sum_c x[p, c] = 1."""
    return pyo.quicksum(m.cut_choice[p, c] for c in m.cuts) == 1


def p1_cost_epigraph(m, p, c):
    """(13) the objective's U(c_p, f_p) as an epigraph: U_c(f_p) - M_pc (1 - x[p, c]) - cost[p] <= 0 for every c.

    One-sided for SCIP; two-sided (`two_sided_rows`) for MindtPy 6.10, whose linearize_inactive takes the
    lower-bound branch of every row, bounded below or not (an operator-precedence slip), and fails on a
    one-sided row. EPIGRAPH_ROW_LOWER_BOUND sits below every tangent of these rows over the variables' box."""
    row = m.eq12_cost_if_cut[p, c] - m.big_m[p, c] * (1 - m.cut_choice[p, c]) - m.cost[p]
    if m.two_sided_rows:
        return pyo.inequality(EPIGRAPH_ROW_LOWER_BOUND, row, 0)
    return row <= 0


def p1_total_cost(m):
    """(13) minimise sum over devices and rounds of U."""
    return pyo.quicksum(m.cost[p] for p in m.pairs)


# --- The perspective form's rows (one rule each) ------------------------------------------------

def p1_clock_split(m, p):
    """(13) f = sum_c f_pc: the pair's clock, split over its cuts (only the chosen cut's share is nonzero)."""
    return pyo.quicksum(m.clock_share[p, c] for c in m.cuts) == pair_clock(m, p)


def p1_clock_share_floor(m, p, c):
    """(13) F_min x_pc <= f_pc: the chosen cut's share is the clock, at least F_min."""
    return m.clock_min[m.clock_of[p]] * m.cut_choice[p, c] <= m.clock_share[p, c]


def p1_clock_share_ceiling(m, p, c):
    """(13) f_pc <= F_max x_pc: every other cut's share is 0."""
    return m.clock_share[p, c] <= m.clock_max[m.clock_of[p]] * m.cut_choice[p, c]


def p1_inverse_clock(m, p, c):
    """(8) the perspective of 1/f: r_pc f_pc >= x_pc^2 (a rotated cone; r = 1/f at the chosen cut)."""
    return m.inverse_clock[p, c] * m.clock_share[p, c] >= m.cut_choice[p, c] ** 2


def p1_squared_clock(m, p, c):
    """(11) the perspective of f^2: q_pc x_pc >= f_pc^2 (a rotated cone; q = f^2 at the chosen cut)."""
    return m.squared_clock[p, c] * m.cut_choice[p, c] >= m.clock_share[p, c] ** 2


def eq10_delay_perspective(m, p):
    """(10) D = sum_c ((T d^D)_c + D^V_c) x_pc + server_work_c r_pc: the chosen cut's delay at clock f (s)."""
    return pyo.quicksum((m.eq7_device_compute[p, c] + m.eq9_transfer[p, c]) * m.cut_choice[p, c]
                        + m.eq8_server_work[p, c] * m.inverse_clock[p, c] for c in m.cuts)


def eq11_energy_perspective(m, p):
    """(11) E = xi sum_c server_work_c q_pc: the chosen cut's server energy at clock f (J)."""
    return m.power_coefficient[p] * pyo.quicksum(m.eq8_server_work[p, c] * m.squared_clock[p, c] for c in m.cuts)


def eq12_cost_perspective(m, p):
    """(12) U = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min) of pair p (-)."""
    return eq12_cost(m.weight[p], m.eq10_delay[p], m.eq11_energy[p], m.delay_min[p], m.delay_max[p],
                     m.energy_min[p], m.energy_max[p])


def p1_total_cost_perspective(m):
    """(13) minimise sum over devices and rounds of U."""
    return pyo.quicksum(m.eq12_cost[p] for p in m.pairs)


# --- Problems ---------------------------------------------------------------------------------

def per_round_clocks(pairs: list[PairCosts]) -> list[int]:
    """The clock group of every pair when one clock serves each round: the round's number."""
    return [pair.round for pair in pairs]


FORMS = ("big_m", "perspective")


def build_p1(pairs: list[PairCosts], name: str = "CARD P1", clock_groups: list | None = None,
             two_sided_rows: bool = False, form: str = "big_m") -> pyo.ConcreteModel:
    """P1 (13): all pairs at once, minimise the sum of their costs.

    `clock_groups[p]` names the clock that serves pair p; by default every pair has its own (the paper's
    P1); `per_round_clocks(pairs)` gives the per-round variant. A group's clock lies in [the largest F_min of
    its pairs, F_max]. `form`: "big_m" (the epigraph rows) or "perspective" (the convex hull of each pair's
    choice); see the module's docstring."""
    if form not in FORMS:
        raise ValueError(f"form={form!r}: expected one of {FORMS}")
    model = pyo.ConcreteModel(name=name)
    groups = list(range(len(pairs))) if clock_groups is None else list(clock_groups)
    model.two_sided_rows = two_sided_rows
    clock_floor, clock_ceiling, grid = _declare_pair_data(model, pairs, groups)
    # Decisions
    model.cut_choice = pyo.Var(model.pairs, model.cuts, within=pyo.Binary, initialize=0,
                               doc="(13) 1 if pair p cuts after layer c (-)")
    model.clock = pyo.Var(model.clocks, units=u.GHz, bounds=lambda m, k: (clock_floor[k], clock_ceiling[k]),
                          initialize=clock_ceiling, doc="(13) server GPU clock f (GHz)")
    if form == "big_m":
        _add_big_m_form(model, pairs, clock_floor, groups, grid)
    else:
        _add_perspective_form(model, clock_floor, clock_ceiling, groups)
    model.p1_one_cut = pyo.Constraint(model.pairs, rule=p1_one_cut, doc="(13) each pair cuts at exactly one layer (-)")
    return model


def _declare_pair_data(model, pairs: list[PairCosts], groups: list):
    """The sets and the data of every pair (eqs. 7-12) and of every clock group; returns each group's clock
    bounds and the (pair, cut) grid."""
    index = range(len(pairs))
    model.pairs = pyo.Set(initialize=list(index), ordered=True, doc="device-round pairs p (-)")
    model.cuts = pyo.Set(initialize=[int(c) for c in pairs[0].cuts], ordered=True, doc="cut layers c = 0..I (-)")
    model.clocks = pyo.Set(initialize=list(dict.fromkeys(groups)), ordered=True,
                           doc="server clocks: one per pair (paper) or per round (-)")
    model.clock_of = pyo.Param(model.pairs, initialize=dict(zip(index, groups)), within=pyo.Any,
                               doc="the clock that serves pair p (-)")
    grid = [(p, int(c)) for p in index for c in pairs[0].cuts]
    clock_floor: dict = {}  # per group: the largest F_min of its pairs, and at least CLOCK_FLOOR_GHZ
    clock_ceiling: dict = {}  # per group: the smallest F_max of its pairs
    for pair, group in zip(pairs, groups):
        clock_floor[group] = max(clock_floor.get(group, CLOCK_FLOOR_GHZ), pair.clock_min_ghz)
        clock_ceiling[group] = min(clock_ceiling.get(group, math.inf), pair.clock_max_ghz)

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
    model.clock_min = pyo.Param(model.clocks, initialize=clock_floor, units=u.GHz,
                                doc="(13) F_min^{m,S} = f^D delta^D sigma^D / (delta^S sigma^S), the largest over "
                                    "the pairs this clock serves, and > 0 (GHz)")
    model.clock_max = pyo.Param(model.clocks, initialize=clock_ceiling, units=u.GHz, doc="(13) F_max^S (GHz)")
    return clock_floor, clock_ceiling, grid


def _add_big_m_form(model, pairs, clock_floor, groups, grid) -> None:
    """P1's objective as big-M epigraph rows, one per pair and cut."""
    index = range(len(pairs))
    bounds = {p: cost_bounds(pairs[p], clock_floor[groups[p]]) for p in index}
    maxima = {p: cut_cost_maxima(pairs[p], clock_floor[groups[p]]) for p in index}
    model.big_m = pyo.Param(model.pairs, model.cuts,
                            initialize={(p, c): maxima[p][c] - bounds[p][0] for p, c in grid},
                            doc="big-M of the epigraph rows: U_c's largest value less the pair's least U (-)")
    model.cost = pyo.Var(model.pairs, bounds=bounds, doc="epigraph of (12): normalised cost U of pair p (-)")
    model.eq8_server_compute = pyo.Expression(model.pairs, model.cuts, rule=eq8_server_compute,
                                              doc="(8) x T: server computation per round at clock f (s)")
    model.eq10_delay = pyo.Expression(model.pairs, model.cuts, rule=eq10_delay,
                                      doc="(10) delay per round D(c, f) if pair p cuts at c (s)")
    model.eq11_energy = pyo.Expression(model.pairs, model.cuts, rule=eq11_energy,
                                       doc="(11) server energy per round E(c, f) if pair p cuts at c (J)")
    model.eq12_cost_if_cut = pyo.Expression(model.pairs, model.cuts, rule=eq12_cost_if_cut,
                                            doc="(12) normalised cost U_c(f) if pair p cuts at c (-)")
    model.p1_cost_epigraph = pyo.Constraint(model.pairs, model.cuts, rule=p1_cost_epigraph,
                                            doc="(13) the chosen cut's cost U_c bounds cost[p] from below (-)")
    model.p1_total_cost = pyo.Objective(rule=p1_total_cost, sense=pyo.minimize,
                                        doc="(13) sum of the normalised costs (-)")


def _add_perspective_form(model, clock_floor, clock_ceiling, groups) -> None:
    """P1's objective through the perspective of each cut's 1/f and f^2 (the convex hull of the choice)."""
    def ceiling(m, p, c):
        return clock_ceiling[groups[p]]

    model.clock_share = pyo.Var(model.pairs, model.cuts, units=u.GHz, bounds=lambda m, p, c: (0, ceiling(m, p, c)),
                                doc="(13) f_pc: the clock if pair p cuts at c, else 0 (GHz)")
    model.inverse_clock = pyo.Var(model.pairs, model.cuts, units=1 / u.GHz,
                                  bounds=lambda m, p, c: (0, 1 / clock_floor[groups[p]]),
                                  doc="(8) r_pc: 1/f if pair p cuts at c, else 0 (1/GHz)")
    model.squared_clock = pyo.Var(model.pairs, model.cuts, units=u.GHz**2,
                                  bounds=lambda m, p, c: (0, ceiling(m, p, c) ** 2),
                                  doc="(11) q_pc: f^2 if pair p cuts at c, else 0 (GHz^2)")
    model.eq10_delay = pyo.Expression(model.pairs, rule=eq10_delay_perspective,
                                      doc="(10) delay per round D of pair p at its cut and clock (s)")
    model.eq11_energy = pyo.Expression(model.pairs, rule=eq11_energy_perspective,
                                       doc="(11) server energy per round E of pair p at its cut and clock (J)")
    model.eq12_cost = pyo.Expression(model.pairs, rule=eq12_cost_perspective,
                                     doc="(12) normalised cost U of pair p (-)")
    model.p1_clock_split = pyo.Constraint(model.pairs, rule=p1_clock_split,
                                          doc="(13) the clock is the sum of its per-cut shares (GHz)")
    model.p1_clock_share_floor = pyo.Constraint(model.pairs, model.cuts, rule=p1_clock_share_floor,
                                                doc="(13) the chosen cut's share is at least F_min (GHz)")
    model.p1_clock_share_ceiling = pyo.Constraint(model.pairs, model.cuts, rule=p1_clock_share_ceiling,
                                                  doc="(13) a share is at most F_max, and 0 off the chosen cut (GHz)")
    model.p1_inverse_clock = pyo.Constraint(model.pairs, model.cuts, rule=p1_inverse_clock,
                                            doc="(8) r_pc f_pc >= x_pc^2, the perspective of 1/f (-)")
    model.p1_squared_clock = pyo.Constraint(model.pairs, model.cuts, rule=p1_squared_clock,
                                            doc="(11) q_pc x_pc >= f_pc^2, the perspective of f^2 (GHz^2)")
    model.p1_total_cost = pyo.Objective(rule=p1_total_cost_perspective, sense=pyo.minimize,
                                        doc="(13) sum of the normalised costs (-)")


def set_choice(model: pyo.ConcreteModel, pair_index: int, cut: int, clock_ghz: float) -> None:
    """Set one pair's cut and clock as the model's values (a starting point)."""
    for c in model.cuts:
        model.cut_choice[pair_index, c].set_value(1 if c == cut else 0)
    model.clock[model.clock_of[pair_index]].set_value(clock_ghz)
    model.cost[pair_index].set_value(pyo.value(model.eq12_cost_if_cut[pair_index, cut]))


def p3_cut_cost(m, p, c):
    """(12) at (15)'s decision: U_c(f_pc), pair p's cost at cut c and that cut's own clock (-)."""
    delay = eq10_delay_s(m.eq7_device_compute[p, c], eq8_server_compute_s(m.eq8_server_work[p, c], m.clock[p, c]),
                         m.eq9_transfer[p, c])
    energy = eq11_energy_j(m.power_coefficient[p], m.clock[p, c], m.eq8_server_work[p, c])
    return eq12_cost(m.weight[p], delay, energy, m.delay_min[p], m.delay_max[p], m.energy_min[p], m.energy_max[p])


def build_p3_every_cut(pairs: list[PairCosts]) -> pyo.ConcreteModel:
    """P3 (15) at every cut of every pair, as one block-separable NLP: each (pair, cut) has its own clock and
    the objective is the sum of their costs, so the joint optimum is every block's own P3 optimum. One NLP
    instead of a model per cut (writing a model per cut dominated the time of thousands of tiny solves)."""
    model = pyo.ConcreteModel(name=f"CARD P3 at every cut of {len(pairs)} device-rounds")
    clock_floor, clock_ceiling, grid = _declare_pair_data(model, pairs, list(range(len(pairs))))
    model.blocks = pyo.Set(initialize=grid, ordered=True, doc="(pair p, cut c): one P3 (15) each (-)")
    model.clock = pyo.Var(model.blocks, units=u.GHz, initialize=lambda m, p, c: clock_ceiling[p],
                          bounds=lambda m, p, c: (clock_floor[p], clock_ceiling[p]),
                          doc="(15) server GPU clock f of pair p at cut c (GHz)")
    model.eq12_cost_at_cut = pyo.Expression(model.blocks, rule=p3_cut_cost,
                                            doc="(12) normalised cost U_c(f) of pair p at cut c (-)")
    model.p3_total_cost = pyo.Objective(expr=pyo.quicksum(model.eq12_cost_at_cut[b] for b in model.blocks),
                                        sense=pyo.minimize, doc="(15) the sum of the blocks' P3 objectives (-)")
    return model
