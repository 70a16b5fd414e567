"""CARD report tables: summary, decisions, benchmarks, profile, out-of-range links, cross-checks.

Built from the plain result objects of solvers/card.py (`StateResult`, `CrossCheck`), read by their
attributes; nothing here imports `solvers/`.
"""

from __future__ import annotations

from data.card import CardInputs
from data.card_profile import Profile, parameter_count
from reports.export import Column, Provenance, ResultTable, summary_with_versions

PAPER_DELAY_REDUCTION = 0.708  # against device-only
PAPER_ENERGY_REDUCTION = 0.531  # against server-only
METHODS = {"card": "CARD", "server_only": "server-only", "device_only": "device-only"}


def delay_reduction(result) -> float:
    return 1.0 - result.mean("card", "delay_s") / result.mean("device_only", "delay_s")


def energy_reduction(result) -> float:
    return 1.0 - result.mean("card", "energy_j") / result.mean("server_only", "energy_j")


def profile_table(profile: Profile) -> ResultTable:
    table = ResultTable("profile", [
        Column("cut", "-", "cut layer c: the device runs the embedding and layers 1..c"),
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
    Column("device", "-", "device id"),
    Column("round", "-", "training round n"),
    Column("snr_up_db", "dB", "up-link SNR"),
    Column("snr_down_db", "dB", "down-link SNR"),
]


def decisions_table(result) -> ResultTable:
    table = ResultTable("decisions", [
        *DEVICE_ROUND_SNR_COLUMNS,
        Column("rate_up_bps", "bit/s", "up-link rate R^D"),
        Column("rate_down_bps", "bit/s", "down-link rate R^S"),
        Column("cut", "-", "CARD's cut layer"),
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
        for method, label in METHODS.items():
            table.add(result.state, label, result.mean(method, "delay_s"), result.mean(method, "energy_j"))
    return table


def out_of_range_table(results) -> ResultTable:
    return ResultTable.of("out_of_range", [Column("channel_state", "-", "channel state"), *DEVICE_ROUND_SNR_COLUMNS],
                          ((result.state, *link) for result in results for link in result.out_of_range))


def crosscheck_verdict(checks) -> str:
    """PASS or FAIL; NONE when no device-round of the checked rounds was in range (nothing could be checked)."""
    if not checks:
        return "NONE (no device-round of the checked rounds is in range)"
    return "PASS" if all(check.passed for check in checks) else "FAIL"


def crosscheck_table(checks) -> ResultTable:
    """One row per CrossCheck."""
    return ResultTable.of("crosscheck", [
        Column("check", "-", "what CARD is compared with"),
        Column("pairs", "-", "device-round pairs compared"),
        Column("max_abs_cost_difference", "-", "largest |U_CARD - U_other|"),
        Column("cut_differences", "-", "pairs whose cut differs"),
        Column("max_abs_clock_difference_hz", "Hz", "largest clock difference"),
        Column("tolerance", "-", "on the cost"),
        Column("verdict", "-", "PASS or FAIL"),
    ], ((check.check, check.pairs, check.max_cost_difference, check.cut_differences, check.max_clock_difference_hz,
         f"<= {check.tolerance:g}", "PASS" if check.passed else "FAIL") for check in checks))


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
            (f"delay_reduction_vs_device_only_{result.state}", delay_reduction(result), "-",
             f"1 - D_CARD / D_device-only, {result.state} channel (paper: {PAPER_DELAY_REDUCTION:.1%})"),
            (f"energy_reduction_vs_server_only_{result.state}", energy_reduction(result), "-",
             f"1 - E_CARD / E_server-only, {result.state} channel (paper: {PAPER_ENERGY_REDUCTION:.1%})"),
        ]
    rows += [
        ("crosscheck", crosscheck_verdict, "-", "CARD against P3 by Ipopt, enumeration and P1 by MindtPy"),
        ("wall_time", wall_seconds, "s", "wall time of the whole run"),
        ("input", inputs.source, "-", "input workbook"),
    ]
    return summary_with_versions(rows, provenance)

