"""CARD: profile, channel, P1-P4 against Algorithm 1, benchmarks, validation and the command line."""

from __future__ import annotations

import csv
import math
import shutil

import numpy as np
import openpyxl
import pyomo.environ as pyo
import pytest
from pyomo.opt import check_optimal_termination
from pyomo.util.check_units import assert_units_consistent

from data.card import DEFAULT_CARD_WORKBOOK, load_card
from data.card_channel import cqi_efficiency, links
from data.card_costs import PairCosts
from data.card_profile import build_profile, parameter_count
from data.generate_card import CQI_TABLE, CardWorkbookSettings, write_card_workbook
from data.issues import InputError
from models.card import build_p1, build_p4
from solvers.card import (
    best_cut_at,
    card,
    closed_form_clock_ghz,
    enumerate_with_ipopt,
    solve_minlp,
    solve_p3,
    solve_state,
)
from solvers.ipopt import IpoptSolver
from solvers.run import EXIT_INPUT, EXIT_OK, main

THRESHOLDS = np.array([row[4] for row in CQI_TABLE])
EFFICIENCIES = np.array([row[3] for row in CQI_TABLE])


# --- profile -------------------------------------------------------------------

def test_profile_of_a_tiny_model_by_hand(tmp_path):
    """h = 8, 2 layers, MLP 16, 2 heads (head dim 4), 1 KV head (kv = 4), vocab 10; batch 1 x 3 tokens;
    LoRA rank 2 on q and v; 2 bytes; backward = 2 x forward."""
    llm = {"hidden_size": 8, "layers": 2, "intermediate_size": 16, "attention_heads": 2, "kv_heads": 1,
           "vocab_size": 10, "tied_embeddings": True}
    parameters = {"batch_size": 1, "sequence_length": 3, "lora_rank": 2, "lora_targets": "q,v"}
    inputs = load_card(write_card_workbook(tmp_path / "tiny.xlsx", CardWorkbookSettings(layers=2), parameters,
                                           llm=llm))
    profile = build_profile(inputs)
    tokens = 3
    # per layer: q 8x8, k 8x4, v 8x4, o 8x8, gate/up 8x16, down 16x8
    linear = 2 * tokens * (64 + 32 + 32 + 64 + 128 + 128 + 128)
    attention = 4 * tokens * 3 * 8
    lora = 2 * tokens * (2 * (8 + 8) + 2 * (8 + 4))  # q: r(in+out) = 32, v: 24
    layer = linear + attention + lora
    head = 2 * tokens * 8 * 10
    assert profile.flops_total == pytest.approx(3 * (2 * layer + head), rel=1e-15)
    np.testing.assert_allclose(profile.flops_device, [0, 3 * layer, 3 * 2 * layer], rtol=1e-15)
    np.testing.assert_allclose(profile.smashed_bits, [tokens * 8 * 2 * 8] * 3)
    np.testing.assert_allclose(profile.gradient_bits, profile.smashed_bits)
    np.testing.assert_allclose(profile.adapter_bits, [0, 56 * 16, 2 * 56 * 16])  # 56 values of 2 bytes per layer
    # parameters: embedding 80 + 2 x (576 linear + 16 norm) + final norm 8, head tied
    assert parameter_count(inputs.llm) == 80 + 2 * (576 + 16) + 8


def test_llama_3_2_1b_has_about_1_24_billion_parameters():
    inputs = load_card(DEFAULT_CARD_WORKBOOK.with_name("card_llama32_1b.xlsx"))
    assert inputs.llm["layers"] == 16
    assert parameter_count(inputs.llm) == pytest.approx(1.24e9, rel=0.01)


def test_measured_layers_sheet_replaces_the_computed_profile(tmp_path):
    path = tmp_path / "measured.xlsx"
    shutil.copy(DEFAULT_CARD_WORKBOOK, path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.create_sheet("layers")
    sheet.append(["layer", "forward_flops", "output_bits", "adapter_bits"])
    for row in ([0, 5.0, 100, 0], [1, 10.0, 200, 7], [2, 20.0, 300, 9], [3, 1.0, 1, 0]):
        sheet.append(row)
    workbook.save(path)
    profile = build_profile(load_card(path))
    assert profile.layers == 2 and profile.source.startswith("layers sheet")
    assert profile.flops_total == 3 * 36.0
    np.testing.assert_allclose(profile.flops_device, [15.0, 45.0, 105.0])
    np.testing.assert_allclose(profile.smashed_bits, [100, 200, 300])
    np.testing.assert_allclose(profile.adapter_bits, [0, 7, 16])


# --- channel -------------------------------------------------------------------

@pytest.mark.parametrize("snr_db,expected", [
    (-6.71, math.nan), (-6.7, 0.1523), (-6.69, 0.1523), (0.19, 0.3770), (0.2, 0.6016), (22.69, 5.1152),
    (22.7, 5.5547), (40.0, 5.5547),
])
def test_cqi_mapping_at_and_around_thresholds(snr_db, expected):
    value = float(cqi_efficiency(snr_db, THRESHOLDS, EFFICIENCIES))
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_snr_and_rate_by_hand():
    inputs = load_card()
    state = links(inputs, "Poor")
    fading = np.random.default_rng(inputs.parameter("seed")).exponential(1.0, (5, 20))
    d = inputs.devices["distance_m"][2]
    snr = 20 + 10 * math.log10(fading[2, 7]) - (40 + 60 * math.log10(d)) - (-174 + 10 * math.log10(20e6))
    assert state.snr_up_db[2, 7] == pytest.approx(snr, abs=1e-9)
    assert state.snr_down_db[2, 7] == pytest.approx(snr + 10, abs=1e-9)
    index = np.searchsorted(THRESHOLDS, snr, side="right") - 1
    expected = 20e6 * EFFICIENCIES[index] if index >= 0 else math.nan
    assert state.rate_up_bps[2, 7] == pytest.approx(expected, nan_ok=True)


def test_links_below_cqi_1_are_reported_not_guessed():
    inputs = load_card()
    result = solve_state(inputs, build_profile(inputs), "Poor")
    assert result.out_of_range, "the default Poor channel has links below CQI 1"
    for _device, _round, up, down in result.out_of_range:
        assert min(up, down) < -6.7
    decided = {(d.device, d.round) for d in result.card}
    assert not decided & {(device, round_) for device, round_, _, _ in result.out_of_range}
    assert len(decided) + len(result.out_of_range) == 5 * 20


# --- P1-P4 against Algorithm 1 ----------------------------------------------------

def random_pair(rng, cuts: int, w: float | None = None) -> PairCosts:
    """A pair with random but physically shaped ingredients (work moves from server to device with c)."""
    layer_work = rng.uniform(0.5, 3.0)
    device_speed = rng.uniform(0.3, 1.5)
    device_share = np.linspace(0, 1, cuts + 1) * rng.uniform(0.8, 0.95)
    server_work = layer_work * cuts * (1 - device_share) + rng.uniform(0.05, 0.3)
    return PairCosts(
        device="r", round=1,
        device_compute_s=layer_work * cuts * device_share / device_speed,
        server_work=server_work,
        transfer_s=rng.uniform(0.1, 2.0) + np.linspace(0, rng.uniform(0, 1.5), cuts + 1),
        power_coefficient=rng.uniform(50, 150), xi=0.0,
        clock_min_ghz=rng.uniform(0.2, 0.9), clock_max_ghz=2.46, w=rng.uniform(0.05, 0.95) if w is None else w,
    )


def with_xi(pair: PairCosts) -> PairCosts:
    from dataclasses import replace
    return replace(pair, xi=pair.power_coefficient / 1e27)


@pytest.mark.parametrize("seed", range(4))
def test_p3_by_ipopt_equals_the_closed_form(seed):
    pair = with_xi(random_pair(np.random.default_rng(seed), cuts=5))
    solver = IpoptSolver()
    for cut in pair.cuts:
        by_ipopt = solve_p3(pair, int(cut), solver)
        assert by_ipopt.clock_ghz == pytest.approx(closed_form_clock_ghz(pair), abs=1e-7)
        assert by_ipopt.cost == pytest.approx(pair.cost(cut, closed_form_clock_ghz(pair)), abs=1e-9)


def test_closed_form_at_the_weights_ends():
    pair = with_xi(random_pair(np.random.default_rng(9), cuts=3))
    from dataclasses import replace
    assert closed_form_clock_ghz(replace(pair, w=1.0)) == pair.clock_max_ghz
    assert closed_form_clock_ghz(replace(pair, w=0.0)) == pair.clock_min_ghz


@pytest.mark.parametrize("seed", range(3))
def test_card_equals_enumeration_p2_and_p1(seed):
    rng = np.random.default_rng(100 + seed)
    pairs = [with_xi(random_pair(rng, cuts=4)) for _ in range(3)]
    ours = [card(pair) for pair in pairs]
    solver = IpoptSolver()
    for pair, decision in zip(pairs, ours):
        assert enumerate_with_ipopt(pair, solver).cost == pytest.approx(decision.cost, abs=1e-6)
        # full enumeration on a fine clock grid, no solver at all
        grid = np.linspace(pair.clock_min_ghz, pair.clock_max_ghz, 20001)
        assert min(pair.cost(c, grid).min() for c in pair.cuts) >= decision.cost - 1e-9
        assert solve_minlp([pair])[0].cost == pytest.approx(decision.cost, abs=1e-6)  # P2
    for by_minlp, decision in zip(solve_minlp(pairs), ours):  # P1
        assert by_minlp.cost == pytest.approx(decision.cost, abs=1e-6)


def test_p4_by_enumeration_equals_the_milp():
    pair = with_xi(random_pair(np.random.default_rng(7), cuts=6))
    clock = 1.3
    model = build_p4(pair, clock)
    results = pyo.SolverFactory("mindtpy").solve(model, strategy="OA", mip_solver="appsi_highs",
                                                 nlp_solver="cyipopt", linearize_inactive=True)
    assert check_optimal_termination(results)
    chosen = max(model.cuts, key=lambda c: model.cut_choice[0, c].value)
    assert pair.cost(chosen, clock) == pytest.approx(pair.cost(best_cut_at(pair, clock), clock), abs=1e-9)


def test_p1_units_and_size():
    inputs = load_card()
    result = solve_state(inputs, build_profile(inputs), "Normal")
    model = build_p1(result.pairs[:3])
    assert_units_consistent(model)
    assert sum(1 for _ in model.component_data_objects(pyo.Var)) == 3 * 33 + 3 + 3  # one-hot, clock, cost
    assert sum(1 for _ in model.component_data_objects(pyo.Constraint)) == 3 + 3 * 33


# --- the paper's qualitative results on the default ---------------------------------

def test_fig3_pattern_on_the_default():
    """Uniform layers: every optimal cut is 0 or I; weaker devices offload (cut I -> 0)."""
    inputs = load_card()
    result = solve_state(inputs, build_profile(inputs), "Normal")
    assert {d.cut for d in result.card} <= {0, 32}
    by_device = {device: [d.cut for d in result.card if d.device == device] for device in inputs.device_ids}
    assert all(cut == 32 for cut in by_device["1"]) and all(cut == 0 for cut in by_device["5"])
    means = [np.mean(by_device[device]) for device in inputs.device_ids]
    assert means == sorted(means, reverse=True)


def test_benchmarks_ordering_on_the_default():
    """CARD's cost is never above either benchmark's; server-only is fastest, device-only slowest."""
    inputs = load_card()
    for state in ("Good", "Normal", "Poor"):
        result = solve_state(inputs, build_profile(inputs), state)
        for ours, server, device in zip(result.card, result.server_only, result.device_only):
            assert ours.cost <= min(server.cost, device.cost) + 1e-12
        assert result.mean("server_only", "delay_s") < result.mean("card", "delay_s") < result.mean("device_only", "delay_s")
        assert result.mean("card", "energy_j") < result.mean("server_only", "energy_j")


# --- validation -----------------------------------------------------------------------

def card_issues(path):
    with pytest.raises(InputError) as caught:
        load_card(path)
    return caught.value.issues


def test_card_validation_names_every_problem(broken_copy):
    def change(workbook):
        parameters = workbook["parameters"]
        for row in range(2, parameters.max_row + 1):
            if parameters.cell(row, 1).value == "channel_state":
                parameters.cell(row, 2).value = "Stormy"
            if parameters.cell(row, 1).value == "w":
                parameters.cell(row, 2).value = 1.5
        workbook["devices"]["C6"] = 20e9  # device 5 (512 cores) now faster than the server
        workbook["llm"]["E2"] = 5  # kv_heads does not divide 32 heads
        workbook["cqi"]["E5"] = -9.0  # CQI 4's threshold below CQI 3's
    issues = card_issues(broken_copy(change, DEFAULT_CARD_WORKBOOK))
    found = {(i.sheet, i.row, (i.column or "").split(" ")[0]) for i in issues}
    assert ("devices", 6, "'clock_hz'") in found
    assert ("llm", 2, "'kv_heads'") in found
    assert ("cqi", 5, "'snr_threshold_db'") in found
    assert any(i.sheet == "parameters" and "channel_state" in (i.column or "") and "Good, Normal, Poor" in i.expected
               for i in issues)
    assert any(i.sheet == "parameters" and "'w'" in (i.column or "") and "<= 1" in i.expected for i in issues)
    assert len(issues) == 5


def test_missing_cqi_sheet(broken_copy):
    issues = card_issues(broken_copy(lambda wb: wb.remove(wb["cqi"]), DEFAULT_CARD_WORKBOOK))
    assert [(i.sheet, i.expected) for i in issues] == [("cqi", "a sheet named 'cqi'")]


# --- command line -------------------------------------------------------------------

def test_card_command_line_writes_the_report(tmp_path, capsys):
    out = tmp_path / "card"
    code = main(["model=card", f"out={out}", "rounds=4", "channel_state=Poor", "progress=false"])
    assert code == EXIT_OK
    assert openpyxl.load_workbook(out / "card.xlsx").sheetnames == [
        "summary", "decisions", "benchmarks", "profile", "out_of_range", "crosscheck"]
    for name in ("fig3.png", "fig4.png", "config.yaml", "input/card.xlsx"):
        assert (out / name).exists()
    summary = {r["name"]: r["value"] for r in csv.DictReader(open(out / "summary.csv"))}
    assert summary["channel_state"] == "Poor" and summary["crosscheck"] == "PASS" and summary["rounds"] == "4"
    decisions = list(csv.DictReader(open(out / "decisions.csv")))
    assert len(decisions) + int(summary["links_out_of_range"]) == 5 * 4
    benchmarks = list(csv.DictReader(open(out / "benchmarks.csv")))
    assert [(r["channel_state"], r["method"]) for r in benchmarks] == [
        (s, m) for s in ("Good", "Normal", "Poor") for m in ("CARD", "server-only", "device-only")]
    assert all(r["verdict"] == "PASS" for r in csv.DictReader(open(out / "crosscheck.csv")))
    printed = capsys.readouterr().out
    assert "70.8%" in printed and "53.1%" in printed


@pytest.mark.parametrize("override", ["channel_state=Stormy", "w=2", "rounds=0"])
def test_card_bad_overrides(tmp_path, override, capsys):
    assert main(["model=card", override, f"out={tmp_path / 'x'}"]) == EXIT_INPUT
    assert override.split("=")[0] in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
