"""FedsLLM Problem (E) report tables and figures, from the plain result objects the energy solvers return.

Nothing here imports `solvers/`: the tables read EnergySearchResult, EnergyAllocation, EnergyParts,
Certificate and the front's rows by their attributes only.
"""

from __future__ import annotations

import math
from pathlib import Path

from data.fedsllm.inputs import FedsllmInputs
from reports.export import Column, Provenance, ResultTable, summary_with_versions
from reports.fedsllm import ENERGY_COLUMNS, energy_values
from reports.style import MARKERS, SINGLE_COLUMN_IN, STRATEGY_LABELS, FigureFiles, legend_below, \
    linear_unless_decades, new_figure, paper_style, save

PARTS = (("client", "client computation"), ("server", "server computation"), ("main", "uploads to the main server"),
         ("fed", "uploads to the fed server"))


def energy_summary_table(inputs: FedsllmInputs, facts: dict, best, search, certificate, wall_seconds: float,
                         provenance: Provenance | None = None) -> ResultTable:
    """`facts`: the delay limit and T* (plain numbers and texts); `best`: the EnergyAllocation reported;
    `search`: the EnergySearchResult; `certificate`: its Certificate."""
    parts = best.parts
    rows = [
        ("objective", "energy", "-", "Problem (E): least energy of a training under the delay limit"),
        ("E", parts.total_j, "J", "least energy of a training E*"),
        *((f"E_{part}", parts.part_total_j(part), "J", f"its part: {meaning}") for part, meaning in PARTS),
        ("T", facts["T_s"], "s", "training delay of the energy optimum, max_k T_k (at most T_max)"),
        ("T_max", best.max_delay_s, "s", f"the delay limit ({facts['T_max_from']})"),
        ("T_star", facts["T_star_s"], "s", "least delay T* of Problem (17) (A = A_min), the run's delay optimum"),
        ("eta_T_star", facts["eta_star"], "-", "its eta"),
        ("E_at_T_star", facts["E_at_T_star_j"], "J", "energy of the delay optimum, clocks and powers at their maxima"),
        ("energy_saving", 1 - parts.total_j / facts["E_at_T_star_j"], "-", "1 - E* / E_at_T_star"),
        ("eta", best.eta, "-", "local accuracy eta of the energy optimum"),
        ("server_clock", best.server_cpu_hz, "Hz", "main-server clock f_s of the energy optimum"),
        ("rounds", facts["rounds"], "-", "global rounds I0 = a/(1-eta), eq. (8)"),
        ("binding_users", facts["binding_users"], "-", "users whose delay row (Ea) binds"),
        ("eta_feasible_low", search.feasible_low, "-", "smallest eta solved (T*(eta) <= T_max there)"),
        ("eta_feasible_high", search.feasible_high, "-", "largest eta solved"),
        *facts.get("bound_rows", []),
        ("certificate", "PASS" if certificate.passed else "FAIL", "-",
         f"{certificate.kind} checks: {certificate.verdict()}"),
        ("solves", search.solves, "-", "solves of Problem (E): grid, refinement, boundary, the bound over eta "
                                          "(relaxations, midpoints), final (and Ipopt's re-solve)"),
        ("ipopt_iterations", search.iterations, "-", "iterations over those solves (structured engine: outer "
                                                      "Newton steps)"),
        ("solve_time", search.seconds, "s", "wall time of Problem (E): the search over eta, the bound over every "
                                            "eta and the final re-solve"),
        ("wall_time", wall_seconds, "s", "wall time of the whole run"),
        ("input", inputs.source, "-", "input workbook"),
    ]
    return summary_with_versions(rows, provenance)


ENERGY_ALLOCATION_COLUMNS = [
    Column("user", "-", "user id"),
    Column("client_cpu_hz", "Hz", "client clock f_k"),
    Column("power_main_mw", "mW", "transmit power to the main server p_s,k (the least that carries s in t_s,k)"),
    Column("power_fed_mw", "mW", "transmit power to the fed server p_c,k"),
    Column("bandwidth_main_mhz", "MHz", "bandwidth to the main server b_s,k"),
    Column("bandwidth_fed_mhz", "MHz", "bandwidth to the fed server b_c,k"),
    Column("time_main_s", "s", "smashed-data upload time per local iteration t_s,k"),
    Column("time_fed_s", "s", "model upload time per round t_c,k"),
    Column("delay_s", "s", "user's total delay T_k, (15) at these clocks"),
    Column("delay_binds", "-", "yes when the user's delay row (Ea) binds (positive multiplier)"),
]


def energy_allocation_table(user_ids, best, delays_s, binding) -> ResultTable:
    """Per user at the energy optimum (an EnergyAllocation); `delays_s` its T_k, `binding` which bind."""
    table = ResultTable("allocation", ENERGY_ALLOCATION_COLUMNS + ENERGY_COLUMNS)
    for index, user in enumerate(user_ids):
        table.add(user, best.client_cpu_hz[index], best.power_main_w[index] * 1e3, best.power_fed_w[index] * 1e3,
                  best.bandwidth_main_hz[index] / 1e6, best.bandwidth_fed_hz[index] / 1e6, best.time_main_s[index],
                  best.time_fed_s[index], delays_s[index], "yes" if binding[index] else "no",
                  *energy_values(best.parts, index))
    return table


def energy_eta_sweep_table(search) -> ResultTable:
    table = ResultTable("eta_sweep", [
        Column("eta", "-", "local accuracy (relaxation: the interval's lower end)"),
        Column("E", "J", "least energy of Problem (E) at this eta (empty where the solve failed or for relaxations)"),
        Column("least_delay_s", "s", "T*(eta), the least delay at this eta (feasible when <= T_max)"),
        Column("status", "-", "Ipopt's termination condition"),
        Column("iterations", "-", "Ipopt iterations (0: the delay optimum is the only feasible point)"),
        Column("stage", "-", "grid, refine, boundary (an end of the feasible range), fixed (a strategy's eta), "
                             "final (re-solve at eta*), relaxation (the branch and bound's bound on an interval)"),
        Column("seconds", "s", "wall time of this solve"),
        Column("lower_bound", "J", "relaxation: proven lower bound on E* over [eta, eta_high]"),
        Column("eta_high", "-", "relaxation: the interval's upper end"),
    ])
    for point in sorted(search.points, key=lambda p: (p.eta, p.stage)):
        table.add(point.eta, point.energy_j, point.least_delay_s, point.record.status, point.record.iterations,
                  point.stage, point.record.seconds, point.lower_bound_j, point.eta_high)
    return table


def energy_baselines_table(rows: list[dict]) -> ResultTable:
    """Each strategy at the run's T_max: `rows` hold strategy, least_delay_s, feasible, energy (EnergyParts or
    None), eta, energy_at_least_delay (EnergyParts of its delay optimum at maxima)."""
    table = ResultTable("baselines", [
        Column("strategy", "-", "Proposed (bandwidth and eta optimised), EB (equal bandwidth), FE (eta fixed), "
                                "BA (both fixed); clocks and powers optimised in each"),
        Column("least_delay_s", "s", "the strategy's least delay (its delay optimum)"),
        Column("feasible", "-", "yes when the least delay is within T_max"),
        Column("eta", "-", "local accuracy of the strategy's energy optimum"),
        *ENERGY_COLUMNS,
        Column("energy_at_least_delay_j", "J", "energy of the strategy's delay optimum (clocks, powers at maxima)"),
        Column("energy_saving", "-", "1 - energy_j / energy_at_least_delay_j"),
    ])
    for row in rows:
        at_least = row["energy_at_least_delay"].total_j
        values = energy_values(row["energy"]) if row["energy"] is not None else [math.nan] * len(ENERGY_COLUMNS)
        table.add(row["strategy"], row["least_delay_s"], "yes" if row["feasible"] else "no", row["eta"], *values,
                  at_least, 1 - values[-1] / at_least if row["energy"] is not None else math.nan)
    return table


def plot_energy_over_eta(search, path: Path, users: int) -> FigureFiles:
    """E*(eta) over the solved etas, with the optimum marked and the branch and bound's interval bounds."""
    points = sorted((p for p in search.points if p.stage not in ("relaxation", "final") and p.record.optimal),
                    key=lambda p: p.eta)
    bounds = [p for p in search.points if p.stage == "relaxation" and math.isfinite(p.lower_bound_j)]
    best = search.best
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 2.8)
        energies = [p.energy_j for p in points]
        axes.plot([p.eta for p in points], energies, "-", color="tab:blue", label="$E^*(\\eta)$, Problem (E)")
        if bounds:
            axes.hlines([p.lower_bound_j for p in bounds], [p.eta for p in bounds], [p.eta_high for p in bounds],
                        colors="tab:green", linewidth=0.8, label="proven lower bound on each $\\eta$ interval")
        axes.plot([best.eta], [best.energy_j], "*", color="tab:red", markersize=8,
                  label=f"optimum $\\eta^*$ = {best.eta:.4f}, $E^*$ = {best.energy_j:.4g} J")
        linear_unless_decades(axes, energies)
        axes.set_xlabel("local accuracy $\\eta$")
        axes.set_ylabel("energy of a training $E$ (J)")
        legend_below(figure, [axes], columns=1)
        return save(figure, [axes], path, f"FedsLLM: least energy E*(eta) under T_max = {best.max_delay_s:.4g} s, "
                                          f"K = {users} users, Problem (E); optimum eta* = {best.eta:.4f}")


def front_table(rows: list[dict]) -> ResultTable:
    """The delay-energy front: one row per delay limit and strategy."""
    table = ResultTable("front", [
        Column("max_delay_s", "s", "the delay limit T_max"),
        Column("max_delay_factor", "-", "T_max / T* (T*: Proposed's least delay)"),
        Column("strategy", "-", "Proposed, EB, FE or BA (each with its own fixed part)"),
        Column("feasible", "-", "yes when the strategy's least delay is within T_max"),
        Column("eta", "-", "local accuracy of the energy optimum"),
        *ENERGY_COLUMNS,
        Column("server_clock_hz", "Hz", "main-server clock f_s of the energy optimum"),
        Column("lower_bound_j", "J", "proven lower bound on E* (over every eta where the strategy searches eta)"),
        Column("gap", "-", "(energy_j - lower_bound_j) / energy_j"),
        Column("status", "-", "ok, infeasible, or failed (with the message)"),
        Column("message", "-", "why a point failed"),
        Column("seconds", "s", "wall time of this point"),
        Column("worker", "-", "Dask worker that solved it"),
    ])
    for row in rows:
        energies = row["energies"] if row["energies"] is not None else [math.nan] * len(ENERGY_COLUMNS)
        table.add(row["max_delay_s"], row["factor"], row["strategy"], "yes" if row["feasible"] else "no", row["eta"],
                  *energies, row["server_clock_hz"], row["lower_bound_j"], row["gap"], row["status"], row["message"],
                  row["seconds"], row["worker"])
    return table


def plot_front(rows: list[dict], path: Path, users: int, least_delay_s: float) -> FigureFiles:
    """E*(T_max) per strategy, where it is feasible (a paper-style delay-energy front)."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 3.0)
        values = []
        strategies = list(dict.fromkeys(row["strategy"] for row in rows))
        for index, strategy in enumerate(strategies):
            mine = sorted((r for r in rows if r["strategy"] == strategy and r["status"] == "ok"),
                          key=lambda r: r["max_delay_s"])
            if not mine:
                continue
            energy = [r["energies"][-1] for r in mine]
            values += energy
            axes.plot([r["max_delay_s"] for r in mine], energy, marker=MARKERS[index % len(MARKERS)],
                      label=STRATEGY_LABELS.get(strategy, strategy))
        linear_unless_decades(axes, values)
        axes.axvline(least_delay_s, color="0.5", linewidth=0.6, linestyle="--")
        axes.set_xlabel("delay limit $T_{max}$ (s)")
        axes.set_ylabel("least energy $E^*$ (J)")
        legend_below(figure, [axes], columns=1)
        return save(figure, [axes], path, f"FedsLLM: delay-energy front E*(T_max), K = {users} users; dashed: the "
                                          f"least delay T* = {least_delay_s:.4g} s; a strategy is drawn where its "
                                          f"least delay is within T_max")

