"""CARD report tables: summary, decisions, benchmarks, profile, out-of-range links, cross-checks.

Built from the plain result objects of solvers/card/ (`StateResult`, `CrossCheck`), read by their
attributes; nothing here imports `solvers/`.
"""

from __future__ import annotations

from data.card.inputs import CardInputs
from data.card.profile import Profile, parameter_count
from data.papers import CARD_METHODS, PAPER_DELAY_REDUCTION, PAPER_ENERGY_REDUCTION
from reports.export import ID, PERCENT, Column, Percent, ResultTable, summary_with_versions
from reports.files.provenance import Provenance



def delay_reduction(result) -> float:
    return 1.0 - result.mean("card", "delay_s") / result.mean("device_only", "delay_s")


def energy_reduction(result) -> float:
    return 1.0 - result.mean("card", "energy_j") / result.mean("server_only", "energy_j")


def profile_table(profile: Profile) -> ResultTable:
    table = ResultTable("profile", [
        Column("cut", "-", "cut layer c: the device runs the embedding and layers 1..c", format=ID),
        Column("flops_total", "FLOP", "eta: one local epoch (forward + backward) of the whole model"),
        Column("flops_device", "FLOP", "eta_D(c): one local epoch of the device part"),
        Column("smashed_bits", "bit", "S(c): smashed data at the cut for one mini-batch"),
        Column("gradient_bits", "bit", "S~(c): its gradient"),
        Column("adapter_bits", "bit", "A(c): the device-side LoRA adapters"),
    ])
    for c in profile.cuts:
        table.add(int(c), profile.flops_total, profile.flops_device[c], profile.smashed_bits[c],
                  profile.gradient_bits[c], profile.adapter_bits[c])
    return table


DEVICE_ROUND_SNR_COLUMNS = [
    Column("device", "-", "device id", format=ID),
    Column("round", "-", "training round n", format=ID),
    Column("snr_up_db", "dB", "up-link SNR"),
    Column("snr_down_db", "dB", "down-link SNR"),
]


def decisions_table(result) -> ResultTable:
    table = ResultTable("decisions", [
        *DEVICE_ROUND_SNR_COLUMNS,
        Column("rate_up_bps", "bit/s", "up-link rate R^D"),
        Column("rate_down_bps", "bit/s", "down-link rate R^S"),
        Column("cut", "-", "CARD's cut layer", format=ID),
        Column("server_clock_hz", "Hz", "CARD's server GPU clock"),
        Column("delay_s", "s", "training delay of the round"),
        Column("energy_j", "J", "server energy of the round"),
        Column("cost", "-", "normalised cost U"),
    ])
    device_index = {d: i for i, d in enumerate(dict.fromkeys(p.device for p in result.pairs))}
    for decision in result.card:
        m, n = device_index[decision.device], decision.round - 1
        table.add(decision.device, decision.round, result.links.snr_up_db[m, n], result.links.snr_down_db[m, n],
                  result.links.rate_up_bps[m, n], result.links.rate_down_bps[m, n], decision.cut,
                  decision.clock_ghz * 1e9, decision.delay_s, decision.energy_j, decision.cost)
    return table


def benchmarks_table(results) -> ResultTable:
    table = ResultTable("benchmarks", [
        Column("channel_state", "-", "Good / Normal / Poor (path-loss exponent 2 / 4 / 6)"),
        Column("method", "-", "CARD, server-only (c = 0) or device-only (c = I); benchmarks at F_max"),
        Column("delay_s", "s", "training delay per round, mean over devices and rounds in range"),
        Column("energy_j", "J", "server energy per round, mean over devices and rounds in range"),
    ])
    for result in results:
        for method, label in CARD_METHODS.items():
            table.add(result.state, label, result.mean(method, "delay_s"), result.mean(method, "energy_j"))
    return table


def out_of_range_table(results) -> ResultTable:
    return ResultTable.of("out_of_range", [Column("channel_state", "-", "channel state"), *DEVICE_ROUND_SNR_COLUMNS],
                          ((result.state, *link) for result in results for link in result.out_of_range))


def crosscheck_verdict(checks, off: bool = False) -> str:
    """PASS or FAIL; OFF when the cross-checks were turned off; NONE when no device-round of the checked
    rounds was in range (nothing could be checked)."""
    if not checks:
        return "OFF (crosscheck.rounds=0)" if off else "NONE (no device-round of the checked rounds is in range)"
    return "PASS" if all(check.passed for check in checks) else "FAIL"


def crosscheck_table(checks) -> ResultTable:
    """One row per CrossCheck; a MINLP solve adds its solver, status, bounds, gap and time."""
    def minlp_cells(check):
        solve = check.minlp
        if solve is None:
            return ("", "", None, None, None, None, None)
        return (solve.solver, solve.status, solve.primal_bound, solve.dual_bound, solve.gap, check.proven_gap,
                solve.seconds)

    return ResultTable.of("crosscheck", [
        Column("check", "-", "what CARD is compared with"),
        Column("pairs", "-", "device-round pairs compared", format=ID),
        Column("max_abs_cost_difference", "-", "largest |U_CARD - U_other|"),
        Column("cut_differences", "-", "pairs whose cut differs", format=ID),
        Column("max_abs_clock_difference_hz", "Hz", "largest clock difference"),
        Column("tolerance", "-", "on the cost"),
        Column("verdict", "-", "PASS or FAIL"),
        Column("solver", "-", "the MINLP solver and its version"),
        Column("status", "-", "its termination status"),
        Column("primal_bound", "-", "its best objective: sum of U over the pairs"),
        Column("dual_bound", "-", "its proven lower bound on that sum"),
        Column("gap", "-", "its relative gap |primal - dual| / |primal|"),
        Column("card_above_dual_bound", "-", "sum of CARD's U less the dual bound (<= tolerance: CARD is optimal)"),
        Column("seconds", "s", "its wall time"),
    ], ((check.check, check.pairs, check.max_cost_difference, check.cut_differences, check.max_clock_difference_hz,
         f"<= {check.tolerance:g}", "PASS" if check.passed else "FAIL", *minlp_cells(check)) for check in checks))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def server_clocks_table(result) -> ResultTable:
    """The paper's clock per device-round against one clock per round (server_clock=per_round)."""
    variants = (("per_device", "paper: a server clock per device-round (CARD)", result.card),
                ("per_round", "one server clock per round, shared by its devices (SCIP)", result.per_round))
    base_cost = _mean(d.cost for d in result.card)
    rows = []
    for name, description, decisions in variants:
        cost = _mean(d.cost for d in decisions)
        rows.append((name, description, _mean(d.delay_s for d in decisions), _mean(d.energy_j for d in decisions),
                     cost, cost - base_cost, (cost - base_cost) / base_cost if base_cost else float("nan")))
    return ResultTable.of("server_clocks", [
        Column("server_clock", "-", "clock model"),
        Column("description", "-", "what it means"),
        Column("mean_delay_s", "s", "mean delay per device-round"),
        Column("mean_energy_j", "J", "mean server energy per device-round"),
        Column("mean_cost", "-", "mean normalised cost U per device-round"),
        Column("cost_of_restriction", "-", "mean U above the paper's (>= 0: one clock per round can only cost)"),
        Column("cost_of_restriction_share", "-", "the same, relative to the paper's mean U", format=PERCENT),
    ], rows)


def per_round_decisions_table(result) -> ResultTable:
    return ResultTable.of("decisions_per_round", [
        Column("device", "-", "device id", format=ID), Column("round", "-", "training round n", format=ID),
        Column("cut", "-", "cut layer with one clock per round", format=ID),
        Column("server_clock_hz", "Hz", "the round's shared server clock"),
        Column("delay_s", "s", "training delay of the round"), Column("energy_j", "J", "server energy of the round"),
        Column("cost", "-", "normalised cost U"),
    ], ((d.device, d.round, d.cut, d.clock_ghz * 1e9, d.delay_s, d.energy_j, d.cost) for d in result.per_round))


def transmission_share(result) -> float:
    """Share of CARD's mean delay spent on transmission (9), D^V / D, over the state's device-rounds."""
    transfer = sum(float(pair.transfer_s[d.cut]) for pair, d in zip(result.pairs, result.card))
    delay = sum(d.delay_s for d in result.card)
    return transfer / delay if delay else float("nan")


def decisions_by_device(decisions) -> dict[str, list]:
    """Each device's decisions in round order."""
    by_device: dict[str, list] = {}
    for decision in decisions:
        by_device.setdefault(decision.device, []).append(decision)
    return by_device


def cut_changes(decisions) -> tuple[int, int, int]:
    """(round-to-round steps whose cut changes, round-to-round steps, devices whose cut ever changes)."""
    by_device = decisions_by_device(decisions)
    changes = sum(a.cut != b.cut for mine in by_device.values() for a, b in zip(mine, mine[1:]))
    steps = sum(len(mine) - 1 for mine in by_device.values())
    moving = sum(len({d.cut for d in mine}) > 1 for mine in by_device.values())
    return changes, steps, moving


def fig3_statements(chosen, results) -> list[tuple[str, str, str]]:
    """Each statement of the paper's Fig. 3 discussion, with what our decisions show: (statement, measured,
    holds). Devices are ranked by their compute speed (F_min is proportional to it)."""
    last = chosen.pairs[0].last_cut
    decisions = chosen.card
    by_device = decisions_by_device(decisions)
    devices = list(by_device)
    speed = {pair.device: pair.clock_min_ghz for pair in chosen.pairs}
    by_speed = sorted(devices, key=lambda device: -speed[device])
    mean_cut = {dev: _mean(d.cut for d in by_device[dev]) for dev in devices}
    mean_clock = {dev: _mean(d.clock_ghz for d in by_device[dev]) for dev in devices}
    inner = sum(d.cut not in (0, last) for d in decisions)
    cuts_fall = all(mean_cut[a] >= mean_cut[b] for a, b in zip(by_speed, by_speed[1:]))
    changes, steps, moving = cut_changes(decisions)
    clocks_rise = all(mean_clock[a] <= mean_clock[b] for a, b in zip(by_speed, by_speed[1:]))
    shares = ", ".join(f"{r.state} {transmission_share(r):.2%}" for r in results)
    reductions = ", ".join(f"{r.state} {delay_reduction(r):.1%} / {energy_reduction(r):.1%}" for r in results)
    return [
        ("each device's optimal cut is 0 or I",
         f"{inner} of {len(decisions)} device-rounds cut elsewhere (I = {last})", "holds" if inner == 0 else "no"),
        ("the cut moves from I to 0 as devices get weaker",
         "mean cut, fastest device first: " + ", ".join(f"{dev} {mean_cut[dev]:.0f}" for dev in by_speed),
         "holds" if cuts_fall else "no"),
        ("the cut changes from round to round with the channel",
         f"{changes} changes in {steps} round-to-round steps; {moving} of {len(devices)} devices ever change",
         "holds" if changes else "no: never in this setting"),
        ("weaker devices get a higher server clock",
         "mean clock (GHz), fastest device first: " + ", ".join(f"{dev} {mean_clock[dev]:.2f}" for dev in by_speed)
         + "; Q = cbrt(w (E_max - E_min) / (2 xi (1 - w)(D_max - D_min))) and a weaker device's D_max (all "
           "layers on the device, at F_min) is larger, while E_max - E_min barely depends on the device, so Q falls",
         "holds" if clocks_rise else "no: the opposite"),
        ("the channel state matters for CARD's gains",
         f"transmission's share of CARD's delay: {shares}; reductions (delay vs device-only / energy vs "
         f"server-only): {reductions}", "holds" if len({round(delay_reduction(r), 3) for r in results}) > 1
         else "no: transmission is a small share of the delay here"),
    ]


def fig3_statements_table(inputs: CardInputs, chosen, results) -> ResultTable:
    return ResultTable.of("fig3_statements", [
        Column("statement", "-", "what the paper says in its Fig. 3 discussion"),
        Column("measured", "-", f"what our decisions show ({chosen.state} channel, w = {inputs.parameter('w')})"),
        Column("holds", "-", "holds, or no and how"),
    ], fig3_statements(chosen, results))


def summary_table(inputs: CardInputs, profile: Profile, chosen, results,
                  crosscheck_verdict: str, wall_seconds: float, provenance: Provenance | None = None) -> ResultTable:
    p = inputs.parameters
    rows = [
        ("channel_state", chosen.state, "-", "channel state of the decisions sheet and Fig. 3"),
        ("w", p["w"], "-", "weight of delay in the cost"),
        ("devices", len(inputs.device_ids), "-", "devices M"),
        ("rounds", p["rounds"], "-", "training rounds N"),
        ("layers", profile.layers, "-", "transformer layers I"),
        ("profile_source", profile.source, "-", "where the per-cut profile comes from"),
        ("parameter_count", parameter_count(inputs.llm), "-", "weights of the LLM described in the llm sheet"),
        ("flops_total", profile.flops_total, "FLOP", "eta: one local epoch of the whole model"),
        ("delay_card", chosen.mean("card", "delay_s"), "s", "CARD's mean delay per round"),
        ("energy_card", chosen.mean("card", "energy_j"), "J", "CARD's mean server energy per round"),
        ("links_out_of_range", len(chosen.out_of_range), "-", "device-rounds below CQI 1 (no decision)"),
    ]
    for result in results:
        rows += [
            (f"delay_reduction_vs_device_only_{result.state}", Percent(delay_reduction(result)), "-",
             f"1 - D_CARD / D_device-only, {result.state} channel (paper: {PAPER_DELAY_REDUCTION:.1%})"),
            (f"energy_reduction_vs_server_only_{result.state}", Percent(energy_reduction(result)), "-",
             f"1 - E_CARD / E_server-only, {result.state} channel (paper: {PAPER_ENERGY_REDUCTION:.1%})"),
        ]
    rows += [
        ("crosscheck", crosscheck_verdict, "-", "CARD against P3 by Ipopt, enumeration and P1 by SCIP (or MindtPy)"),
        ("wall_time", wall_seconds, "s", "wall time of the whole run"),
        ("input", inputs.source, "-", "input workbook"),
    ]
    return summary_with_versions(rows, provenance)

