"""FedsLLM report tables, built from the plain result objects the solvers return.

Nothing here imports `solvers/`: the tables read `EtaSearchResult`, `OptimumAllocation`,
`Comparison`, `Problem16Solution` and `Certificate` by their attributes only.
"""

from __future__ import annotations

import numpy as np

from data.fedsllm.inputs import FedsllmInputs
from data.papers import PAPER_REDUCTION_VS_BA
from data.workbook import plain_value
from reports.export import ID, PERCENT, Column, Percent, ResultTable, summary_with_versions
from reports.files.provenance import Provenance



def summary_table(inputs: FedsllmInputs, result, optimum, grid, wall_seconds: float,
                  extra_rows: list[tuple] = (), provenance: Provenance | None = None) -> ResultTable:
    """`result`: the eta search (EtaSearchResult); `optimum`: the reported optimum (OptimumAllocation,
    from (17) or, when the reduction does not hold, (16)); `grid`: the EtaGrid."""
    rows = [
        ("T", optimum.T, "s", "optimal total training delay T*"),
        ("eta", optimum.eta, "-", "local accuracy eta* at the optimum"),
        ("T_grid", result.best_grid.T, "s", "best total delay of Problem (17) on the eta grid"),
        ("eta_grid", result.best_grid.eta, "-", "grid point of T_grid"),
        ("rounds", optimum.rounds, "-", "global rounds I0 = a/(1-eta*), eq. (8)"),
        ("local_iterations", optimum.local_iterations, "-", "local iterations per round v log2(1/eta*), Lemma 2"),
        ("a", optimum.a, "-", "Lemma 1 constant 2L^2/(gamma^2 xi) ln(1/eps0), eq. (8)"),
        ("v", optimum.v, "-", "Lemma 2 constant 2/((2 - L delta) delta gamma)"),
        ("users", inputs.user_count, "-", "number of users K"),
        ("bandwidth_main_used", float(result.best.bandwidth_main_mhz.sum()), "MHz", "sum of b_s,k at the (17) optimum"),
        ("bandwidth_fed_used", float(result.best.bandwidth_fed_mhz.sum()), "MHz", "sum of b_c,k at the (17) optimum"),
        ("eta_step", grid.step, "-", "step of the eta grid"),
        ("eta_grid_low", grid.low, "-", "first eta of the grid"),
        ("eta_grid_high", grid.high, "-", "last eta of the grid"),
        *extra_rows,
        ("engine", result.engine, "-", "what solved Problem (17) at each eta (solver.engine; README, 'Engines')"),
        ("lower_bound", result.best_lower_bound, "s",
         "structured engine: Lagrangian lower bound on T*(eta*) (empty with Ipopt)"),
        ("upper_bound", result.best_upper_bound, "s",
         "structured engine: T of its feasible allocation at eta* (empty with Ipopt)"),
        ("gap", result.best_gap, "-", "structured engine: (upper - lower) / upper at eta* (empty with Ipopt)"),
        ("certified_by", result.certified_by, "-",
         "Lemma 3/KKT on Ipopt's final re-solve, or the duality gap alone above solver.certify_max_users"),
        ("solves", result.solves, "-", "solves of the eta search (grid, refinement, extra, final)"),
        ("ipopt_iterations", result.iterations, "-",
         "Ipopt iterations over those solves (structured engine: its budget Newton steps)"),
        ("solve_time", result.seconds, "s", "wall time of the eta search"),
        ("wall_time", wall_seconds, "s", "wall time of the whole run"),
        ("input", inputs.source, "-", "input workbook"),
    ]
    return summary_with_versions(rows, provenance)


ALLOCATION_COLUMNS = [
    Column("user", "-", "user id", format=ID),
    Column("gain_main_db", "dB", "channel gain to the main server"),
    Column("gain_fed_db", "dB", "channel gain to the fed server"),
    Column("samples", "-", "local samples D_k"),
    Column("cycles_per_sample", "cycles", "CPU cycles per sample C_k"),
    Column("cpu_max_hz", "Hz", "client CPU frequency f_k^max"),
    Column("power_main_max_dbm", "dBm", "transmit power to the main server"),
    Column("power_fed_max_dbm", "dBm", "transmit power to the fed server"),
    Column("bandwidth_main_mhz", "MHz", "bandwidth to the main server b_s,k"),
    Column("bandwidth_fed_mhz", "MHz", "bandwidth to the fed server b_c,k"),
    Column("time_main_s", "s", "smashed-data upload time per local iteration t_s,k"),
    Column("time_fed_s", "s", "model upload time per round t_c,k"),
    Column("rate_main_mbps", "Mbit/s", "rate to the main server"),
    Column("rate_fed_mbps", "Mbit/s", "rate to the fed server"),
    Column("compute_s", "s", "computation time per global round tau_k"),
    Column("delay_s", "s", "user's total delay, left side of (17a)"),
    Column("share_bandwidth_main", "-", "b_s,k / B_s", format=PERCENT),
    Column("share_bandwidth_fed", "-", "b_c,k / B_c", format=PERCENT),
    Column("share_delay", "-", "delay_s / T (1 where the user sets T)", format=PERCENT),
]


# The energy of a training, per user (allocation) or in total (baselines): docs/fedsllm.md, "Energy".
ENERGY_COLUMNS = [
    Column("energy_client_j", "J", "client computation energy per training, kappa A E_k L f_k^2 per round"),
    Column("energy_server_j", "J", "server computation energy per training, kappa_s (1-A) E_k L f_s^2 per round"),
    Column("energy_main_j", "J", "upload energy to the main server per training, n p_s t_s per round"),
    Column("energy_fed_j", "J", "upload energy to the fed server per training, p_c t_c per round"),
    Column("energy_j", "J", "total energy per training, I0 times the round's sum"),
]


def energy_values(parts, index: int | None = None) -> list[float]:
    """The ENERGY_COLUMNS of an EnergyParts: one user's (`index`) or the sum over users."""
    values = [parts.client_j, parts.server_j, parts.main_j, parts.fed_j, parts.per_user_j]
    return [float(v[index]) if index is not None else float(v.sum()) for v in values]


def allocation_table(inputs: FedsllmInputs, optimum, energy=None) -> ResultTable:
    """Per user, at the optimum (an OptimumAllocation), as whole columns; `energy` (EnergyParts) adds the
    energy columns."""
    def input_column(name: str) -> list:
        return [plain_value(v, whole_numbers_as_int=True) for v in inputs.column(name).tolist()]

    energy_columns = ([energy.client_j, energy.server_j, energy.main_j, energy.fed_j, energy.per_user_j]
                      if energy is not None else [])
    return ResultTable.from_columns("allocation", ALLOCATION_COLUMNS + (ENERGY_COLUMNS if energy is not None else []), [
        list(optimum.user_ids),
        *(input_column(name) for name in ("gain_main_db", "gain_fed_db", "samples", "cycles_per_sample",
                                          "cpu_max_hz", "power_main_max_dbm", "power_fed_max_dbm")),
        optimum.bandwidth_main_mhz, optimum.bandwidth_fed_mhz, optimum.time_main_s, optimum.time_fed_s,
        optimum.rate_main_mbps, optimum.rate_fed_mbps, optimum.compute_s, optimum.delay_s,
        optimum.bandwidth_main_mhz / optimum.bandwidth_main_budget_mhz,
        optimum.bandwidth_fed_mhz / optimum.bandwidth_fed_budget_mhz,
        optimum.delay_s / optimum.T,
        *(np.asarray(values, dtype=float) for values in energy_columns),
    ])


def eta_sweep_table(result) -> ResultTable:
    table = ResultTable("eta_sweep", [
        Column("eta", "-", "local accuracy"),
        Column("T", "s", "optimal total delay of Problem (17) at this eta (empty if the solve failed)"),
        Column("status", "-", "termination condition (Ipopt's, or the structured engine's)"),
        Column("iterations", "-", "Ipopt iterations (structured: budget Newton steps)"),
        Column("stage", "-", "grid, refine (search between grid neighbours), extra (an eta a baseline uses), "
                             "global (an eta* the global search found) or final (re-solve at eta*)"),
        Column("seconds", "s", "wall time of this solve"),
        Column("lower_bound", "s", "structured engine: proven lower bound on T*(eta) (empty with Ipopt)"),
        Column("gap", "-", "structured engine: (T - lower_bound) / T (empty with Ipopt)"),
    ])
    for point in sorted(result.points, key=lambda p: (p.eta, p.stage)):
        table.add(point.eta, point.T, point.record.status, point.record.iterations, point.stage,
                  point.record.seconds, point.lower_bound, point.gap)
    return table


def sweep_curve(result) -> tuple[np.ndarray, np.ndarray]:
    """(eta, T) of every optimal grid and refinement point, sorted by eta."""
    points = sorted((p for p in result.points if p.record.optimal and p.stage != "final"), key=lambda p: p.eta)
    return np.array([p.eta for p in points]), np.array([p.T for p in points])


def optimum_summary_rows(solved, certificate) -> list[tuple]:
    """The summary rows of (16), the certificate and the headline reduction; `solved` is the FedsLLM
    pipeline's FedsllmOptimum, `certificate` its Certificate."""
    rows = []
    if solved.problem16 is not None:
        best16 = solved.best16
        rows += [
            ("T_problem16", best16.T if best16 else float("nan"), "s", "best local optimum of Problem (16)"),
            ("reduction_applies", "yes" if solved.reduction_applies else "no", "-",
             "f_s^max > f_k^max for every client (Section III-E's A* = A_min needs it)"),
            ("reduction_holds", "yes" if solved.reduction_holds else "no", "-",
             "Problem (16)'s best agrees with (17): same T, f, f_s, p at max, A = A_min"),
            ("problem16_crosscheck", solved.problem16_crosscheck, "-",
             "what answered Problem (16); Ipopt's starts only up to problem16_multistart_max_users users"),
        ]
    found = solved.global_eta
    if found is not None:
        rows += [
            ("global_lower_bound", found.lower_bound, "s", "smallest lower bound on T* over every eta in (0, 1)"),
            ("global_upper_bound", found.T, "s", "best T the branch and bound found (structured engine)"),
            ("global_eta", found.eta, "-", "its eta"),
            ("global_gap", found.gap, "-", f"(upper - lower) / upper; certified when <= {found.tolerance:g}"),
            ("global_intervals", found.intervals, "-", "eta intervals split or pruned"),
            ("global_solves", found.solves, "-", "structured solves of the branch and bound"),
            ("global_status", found.status, "-", "certified, or why not"),
        ]
    found16 = solved.global16
    if found16 is not None:
        rows += [
            ("T_problem16_certified", found16.T, "s", "Problem (16)'s certified global optimum (A searched)"),
            ("eta_problem16_certified", found16.eta, "-", "its eta"),
            ("A_problem16_certified", found16.client_share, "-", "its client share A"),
            ("gap_problem16_certified", found16.gap, "-", f"its gap; certified when <= {found16.tolerance:g}"),
            ("lower_bound_problem16", found16.lower_bound, "s", "proven lower bound on (16)'s optimum"),
        ]
    rows += [
        ("optimum_from", solved.source, "-", "which problem the reported optimum comes from"),
        ("certificate", "PASS" if certificate.passed else "FAIL", "-", f"{certificate.kind} checks: {certificate.verdict()}"),
        ("reduction_vs_BA", Percent(solved.comparison.reduction_vs_ba("Proposed")), "-",
         f"1 - T_Proposed / T_BA (the paper reports {PAPER_REDUCTION_VS_BA:.2%})"),
    ]
    return rows


ALL_USERS = "all"  # a Check's scope when it is over every user
CERTIFICATE_COLUMNS = [
    Column("check", "-", "what is checked"),
    Column("user", "-", "the user id, as in the allocation sheet; empty: a check over all users", format=ID),
    Column("value", "-", "the measured value, in `unit`"),
    Column("unit", "-", "unit of the value"),
    Column("tolerance", "-", "the condition the value must meet"),
    Column("verdict", "-", "PASS or FAIL"),
    Column("description", "-", "meaning"),
]


def certificate_table(certificate) -> ResultTable:
    """The checks of a Certificate, one row each: the per-user checks user by user (built as whole columns
    from its arrays), then the overall ones; `user` holds the id as the allocation sheet does (empty for a
    check over all users), so the column has one type and joins the allocation on it."""
    per_user, users, overall = certificate.per_user, certificate.users, certificate.checks
    repeated = len(users)

    def column(attribute: str) -> list:
        return np.tile([getattr(c, attribute) for c in per_user], repeated).tolist() + [getattr(c, attribute)
                                                                                          for c in overall]

    values = np.stack([c.values for c in per_user], axis=1).ravel() if per_user else np.empty(0)
    passed = np.stack([c.passed for c in per_user], axis=1).ravel() if per_user else np.empty(0, bool)
    return ResultTable.from_columns("lemma3_kkt", CERTIFICATE_COLUMNS, [
        column("check"),
        np.repeat(np.asarray(users, dtype=object), len(per_user)).tolist()
        + [None if c.scope == ALL_USERS else c.scope for c in overall],
        np.concatenate([values, np.array([c.value for c in overall], dtype=float)]), column("unit"),
        column("tolerance"),
        np.where(passed, "PASS", "FAIL").tolist() + ["PASS" if c.passed else "FAIL" for c in overall],
        column("description")])



def baselines_table(comparison, energies: dict | None = None) -> ResultTable:
    """`energies`: each strategy's EnergyParts (clocks and powers at their maxima) for the energy columns."""
    table = ResultTable("baselines", [
        Column("strategy", "-", "Proposed (bandwidth and eta optimised), EB (equal bandwidth), "
                                "FE (eta fixed), BA (both fixed)"),
        Column("T", "s", "total training delay"),
        Column("eta", "-", "local accuracy used"),
        Column("reduction_vs_BA", "-", "1 - T / T_BA", format=PERCENT),
    ] + (ENERGY_COLUMNS if energies else []))
    for strategy, result in comparison.results.items():
        table.add(strategy, result.T, result.eta, comparison.reduction_vs_ba(strategy),
                  *(energy_values(energies[strategy]) if energies else []))
    return table


def reduction_table(solutions, T17: float, eta17: float, client_share_min: float) -> ResultTable:
    """Problem (16) from each start, and the (17) reduction it is compared with."""
    table = ResultTable("reduction", [
        Column("start", "-", "where Ipopt started Problem (16)"),
        Column("status", "-", "Ipopt termination condition"),
        Column("iterations", "-", "Ipopt iterations"),
        Column("T", "s", "total training delay at the local optimum"),
        Column("eta", "-", "local accuracy"),
        Column("client_share", "-", "A", format=PERCENT),
        Column("server_cpu_fraction", "-", "f_s / f_s^max"),
        Column("min_client_cpu_fraction", "-", "min_k f_k / f_k^max"),
        Column("min_power_fraction", "-", "min over users and links of p / p^max"),
        Column("T_vs_problem17", "-", "T / T(17) - 1"),
    ])
    for s in solutions:
        table.add(s.start, s.record.status, s.record.iterations, s.T, s.eta, s.client_share,
                  s.server_cpu_fraction, s.min_client_cpu_fraction, s.min_power_fraction, s.T / T17 - 1)
    table.add("reduction: Problem (17) optimum", "optimal", None, T17, eta17, client_share_min, 1.0, 1.0, 1.0, 0.0)
    return table


def fig2_table(sweep) -> ResultTable:
    table = ResultTable("fig2", [
        Column("power_dbm", "dBm", "every user's maximum transmit power on both links"),
        Column("strategy", "-", "Proposed, EB, FE or BA"),
        Column("T", "s", "total training delay"),
        Column("eta", "-", "local accuracy used"),
        Column("reduction_vs_BA", "-", "1 - T / T_BA at this power", format=PERCENT),
    ])
    for power, comparison in sweep:
        for strategy, result in comparison.results.items():
            table.add(power, strategy, result.T, result.eta, comparison.reduction_vs_ba(strategy))
    return table


def power_sweep_summary_table(inputs: FedsllmInputs, mean_reduction: float, powers: int, baseline_eta: float,
                              wall_seconds: float, provenance: Provenance | None = None) -> ResultTable:
    return summary_with_versions([
        ("mean_reduction_vs_BA", Percent(mean_reduction), "-",
         f"mean over the powers of 1 - T_Proposed / T_BA (the paper reports {PAPER_REDUCTION_VS_BA:.2%})"),
        ("powers", powers, "-", "transmit powers swept"),
        ("baseline_eta", baseline_eta, "-", "eta of FE and BA"),
        ("wall_time", wall_seconds, "s", "wall time of the whole run"),
        ("input", inputs.source, "-", "input workbook"),
    ], provenance)


def mean_reduction_vs_ba(sweep, strategy: str = "Proposed") -> float:
    return float(np.mean([comparison.reduction_vs_ba(strategy) for _, comparison in sweep]))
