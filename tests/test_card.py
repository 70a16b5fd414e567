"""CARD: profile, channel, P1-P4 against Algorithm 1, benchmarks, validation and the command line."""

from __future__ import annotations

import csv
import math
import shutil
from dataclasses import replace

import numpy as np
import openpyxl
import pyomo.environ as pyo
import pytest
from pyomo.opt import check_optimal_termination
from pyomo.util.check_units import assert_units_consistent

from data.card.inputs import DEFAULT_CARD_WORKBOOK, load_card
from data.card.channel import PATH_LOSS_EXPONENT, Links, cqi_efficiency, links
from data.card.costs import PairCosts, pair_costs
from data.card.profile import build_profile, parameter_count
from data.card.generate import CQI_TABLE, CardWorkbookSettings, write_card_workbook
from data.issues import InputError
from models.card import build_p1, per_round_clocks, set_choice
from solvers.card.algorithm import best_cut_at, card_algorithm1, eq16_optimal_clock_ghz
from solvers.card.state import solve_state
from solvers.card.crosscheck import crosscheck
from solvers.card.p3 import least_cost, solve_p3_every_cut_at_once
from solvers.card.reference import per_round_optimum
from solvers.card.minlp import solve_p1_by_mindtpy, solve_p1_by_scip, solve_with_mindtpy
from tests.card_problems import build_p2, build_p4, solve_p3, solve_p3_every_cut
from solvers.runtime.ipopt import IpoptSolver
from data.errors import EXIT_INPUT, EXIT_SOLVE
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main

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


# --- workbook to costs (eqs. 7-12) ------------------------------------------------------

TINY_LLM = {"hidden_size": 8, "layers": 2, "intermediate_size": 16, "attention_heads": 2, "kv_heads": 1,
            "vocab_size": 10, "tied_embeddings": True}
TINY_PARAMETERS = {"batch_size": 1, "sequence_length": 3, "lora_rank": 2, "lora_targets": "q,v",
                   "local_epochs": 5, "compression": 0.1, "xi": 1e-25, "w": 0.2}


@pytest.fixture
def tiny_pair(tmp_path):
    """Device 1 of the tiny model in round 4, on a hand-set link of 1 Mbit/s up and 4 Mbit/s down."""
    inputs = load_card(write_card_workbook(tmp_path / "tiny.xlsx", CardWorkbookSettings(layers=2), TINY_PARAMETERS,
                                           llm=TINY_LLM))
    shape = (5, 20)
    link = Links("Good", np.zeros(shape), np.zeros(shape), np.full(shape, 1e6), np.full(shape, 4e6))
    return pair_costs(inputs, build_profile(inputs), link, device_index=0, round_index=3)


def tiny_by_hand():
    """eqs. 7-9 for the tiny pair, worked out from the workbook's numbers."""
    layer = 2 * 3 * 576 + 4 * 3 * 3 * 8 + 2 * 3 * (32 + 24)  # linear + attention + LoRA FLOPs (profile test)
    head = 2 * 3 * 8 * 10
    epoch_total = 3 * (2 * layer + head)  # forward + backward (2 x forward)
    epoch_device = np.array([0.0, 3 * layer, 6 * layer])
    device_flops_per_s = 1.3e9 * 2048 * 2  # device 1: Jetson AGX Orin, 1.3 GHz, 2048 cores, 2 FLOP/cycle
    server_flops_per_cycle = 3072 * 2
    smashed = 3 * 8 * 2 * 8  # tokens x hidden x bytes x 8 bits, at every cut
    adapters = np.array([0.0, 56 * 16, 2 * 56 * 16])
    return {
        "device_compute_s": 5 * epoch_device / device_flops_per_s,  # (7) x T
        "server_work": 5 * (epoch_total - epoch_device) / server_flops_per_cycle / 1e9,  # (8) x T at 1 GHz
        "transfer_s": 5 * 0.1 * (smashed / 1e6 + smashed / 4e6) + adapters / 1e6 + adapters / 4e6,  # (9)
        "clock_min_ghz": device_flops_per_s / server_flops_per_cycle / 1e9,
    }


def test_pair_costs_from_a_workbook_by_hand(tiny_pair):
    expected = tiny_by_hand()
    for name in ("device_compute_s", "server_work", "transfer_s"):
        np.testing.assert_allclose(getattr(tiny_pair, name), expected[name], rtol=1e-14, err_msg=name)
    assert tiny_pair.clock_min_ghz == pytest.approx(expected["clock_min_ghz"], rel=1e-14)
    assert tiny_pair.clock_max_ghz == 2.46 and tiny_pair.power_coefficient == pytest.approx(100.0, rel=1e-14)
    assert (tiny_pair.device, tiny_pair.round, tiny_pair.w) == ("1", 4, 0.2)


def test_pyomo_expressions_and_algorithm_1_agree_with_the_hand_worked_case_at_every_cut(tiny_pair):
    """One definition serves both; this checks both against the hand-worked numbers, at every cut."""
    expected = tiny_by_hand()
    clock = 1.1
    model = build_p2(tiny_pair)
    model.clock[0].set_value(clock)
    for c in tiny_pair.cuts:
        delay = expected["device_compute_s"][c] + expected["server_work"][c] / clock + expected["transfer_s"][c]
        energy = 100.0 * clock**2 * expected["server_work"][c]
        assert pyo.value(model.eq10_delay[0, c]) == pytest.approx(delay, rel=1e-13)
        assert tiny_pair.delay(c, clock) == pytest.approx(delay, rel=1e-13)
        assert pyo.value(model.eq11_energy[0, c]) == pytest.approx(energy, rel=1e-13)
        assert tiny_pair.energy(c, clock) == pytest.approx(energy, rel=1e-13)
        assert pyo.value(model.eq12_cost_if_cut[0, c]) == pytest.approx(hand_cost(tiny_pair, int(c), clock), abs=1e-13)
        assert tiny_pair.cost(c, clock) == pytest.approx(hand_cost(tiny_pair, int(c), clock), abs=1e-13)


# --- channel -------------------------------------------------------------------

@pytest.mark.parametrize("snr_db,expected", [
    (-6.71, math.nan), (-6.7, 0.1523), (-6.69, 0.1523), (0.19, 0.3770), (0.2, 0.6016), (22.69, 5.1152),
    (22.7, 5.5547), (40.0, 5.5547),
])
def test_cqi_mapping_at_and_around_thresholds(snr_db, expected):
    value = float(cqi_efficiency(snr_db, THRESHOLDS, EFFICIENCIES))
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_snr_and_rate_by_hand():
    """Independent of the fading draw: it cancels between links and between channel states."""
    inputs = load_card()
    poor, good = links(inputs, "Poor"), links(inputs, "Good")
    d = inputs.devices["distance_m"][2]
    # down-link 30 dBm against up-link 20 dBm, same fading and loss: 10 dB apart
    assert poor.snr_down_db[2, 7] == pytest.approx(poor.snr_up_db[2, 7] + 10, abs=1e-9)
    # Poor (alpha 6) against Good (alpha 2): 40 log10(d) dB apart, at every device and round
    np.testing.assert_allclose(good.snr_up_db - poor.snr_up_db,
                               np.repeat((40 * np.log10(inputs.devices["distance_m"]))[:, None], 20, axis=1),
                               atol=1e-9)
    # the fading |h|^2 recovered from the SNR: 10^((SNR - P + PL + N0 + 10 log10 B)/10)
    fading = 10 ** ((poor.snr_up_db[2, 7] - 20 + (40 + 60 * math.log10(d)) + (-174 + 10 * math.log10(20e6))) / 10)
    assert fading > 0
    index = np.searchsorted(THRESHOLDS, poor.snr_up_db[2, 7], side="right") - 1
    expected = 20e6 * EFFICIENCIES[index] if index >= 0 else math.nan
    assert poor.rate_up_bps[2, 7] == pytest.approx(expected, nan_ok=True)


def test_fading_is_rayleigh_and_seeded(tmp_path):
    """|h|^2 ~ Exp(1): over 5 x 4000 draws its mean is 1 and P(|h|^2 > 1) = 1/e, to sampling error;
    the same seed gives the same draws, another seed others."""
    inputs = load_card().with_parameters(rounds=4000)
    state = links(inputs, "Good")
    loss = 40 + 10 * PATH_LOSS_EXPONENT["Good"] * np.log10(inputs.devices["distance_m"])[:, None]
    fading = 10 ** ((state.snr_up_db - 20 + loss + (-174 + 10 * math.log10(20e6))) / 10)
    assert fading.mean() == pytest.approx(1.0, abs=0.03)  # std of the mean: 1/sqrt(20000) = 0.007
    assert (fading > 1).mean() == pytest.approx(math.exp(-1), abs=0.015)
    np.testing.assert_array_equal(links(inputs, "Good").snr_up_db, state.snr_up_db)
    assert not np.allclose(links(inputs.with_parameters(seed=2), "Good").snr_up_db, state.snr_up_db)


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
    return replace(pair, xi=pair.power_coefficient / 1e27)


def hand_cost(pair: PairCosts, cut: int, clock_ghz: float) -> float:
    """U of (12) written out from the paper, independently of data/card/costs.py."""
    def delay(c, f):
        return pair.device_compute_s[c] + pair.server_work[c] / f + pair.transfer_s[c]

    def energy(c, f):
        return pair.power_coefficient * f * f * pair.server_work[c]

    last, low, high = len(pair.server_work) - 1, pair.clock_min_ghz, pair.clock_max_ghz
    d_min, d_max = delay(0, high), delay(last, low)
    e_min, e_max = energy(last, low), energy(0, high)
    return (pair.w * (delay(cut, clock_ghz) - d_min) / (d_max - d_min)
            + (1 - pair.w) * (energy(cut, clock_ghz) - e_min) / (e_max - e_min))


def hand_optimal_clock(pair: PairCosts) -> float:
    """(16) by a dense search of U at cut 0 over the clock range: the optimum of a convex function."""
    grid = np.linspace(pair.clock_min_ghz, pair.clock_max_ghz, 200001)
    return float(grid[np.argmin(hand_cost(pair, 0, grid))])


@pytest.mark.parametrize("seed", range(4))
def test_p3_by_ipopt_equals_the_closed_form(seed):
    pair = with_xi(random_pair(np.random.default_rng(seed), cuts=5))
    solver = IpoptSolver()
    assert eq16_optimal_clock_ghz(pair) == pytest.approx(hand_optimal_clock(pair), abs=2e-5)
    for cut in pair.cuts:
        by_ipopt = solve_p3(pair, int(cut), solver)
        assert by_ipopt.clock_ghz == pytest.approx(eq16_optimal_clock_ghz(pair), abs=1e-7)
        assert hand_cost(pair, int(cut), by_ipopt.clock_ghz) == pytest.approx(
            hand_cost(pair, int(cut), eq16_optimal_clock_ghz(pair)), abs=1e-9)


def test_closed_form_at_the_weights_ends():
    pair = with_xi(random_pair(np.random.default_rng(9), cuts=3))
    assert eq16_optimal_clock_ghz(replace(pair, w=1.0)) == pair.clock_max_ghz
    assert eq16_optimal_clock_ghz(replace(pair, w=0.0)) == pair.clock_min_ghz


@pytest.mark.parametrize("seed", range(3))
def test_card_equals_enumeration_p2_and_p1(seed):
    rng = np.random.default_rng(100 + seed)
    pairs = [with_xi(random_pair(rng, cuts=4)) for _ in range(3)]
    ours = [card_algorithm1(pair) for pair in pairs]
    solver = IpoptSolver()

    def judged(pair, decision):  # every method's decision, costed by the hand-written (12)
        return hand_cost(pair, decision.cut, decision.clock_ghz)

    for pair, decision in zip(pairs, ours):
        enumerated = least_cost(solve_p3_every_cut(pair, solver))
        assert judged(pair, enumerated) == pytest.approx(judged(pair, decision), abs=1e-6)
        # full enumeration on a fine clock grid, no solver at all
        grid = np.linspace(pair.clock_min_ghz, pair.clock_max_ghz, 2001)
        assert min(hand_cost(pair, int(c), grid).min() for c in pair.cuts) >= judged(pair, decision) - 1e-9
        assert judged(pair, solve_p1_by_mindtpy([pair], 600).decisions[0]) == pytest.approx(judged(pair, decision), abs=1e-6)  # P2
    for pair, by_minlp, decision in zip(pairs, solve_p1_by_mindtpy(pairs, 600).decisions, ours):  # P1
        assert judged(pair, by_minlp) == pytest.approx(judged(pair, decision), abs=1e-6)


def test_crosscheck_by_mindtpy_proves_card_optimal():
    """crosscheck.minlp=mindtpy: MindtPy's dual bound, not only its decisions, judges CARD."""
    inputs = load_card()
    result = solve_state(inputs, build_profile(inputs), "Normal")
    check = crosscheck(result, 1, IpoptSolver(), minlp="mindtpy")[-1]
    assert check.minlp.dual_bound <= check.minlp.primal_bound
    assert abs(check.proven_gap) <= 1e-6 and check.passed


def test_p4_by_enumeration_equals_the_milp():
    pair = with_xi(random_pair(np.random.default_rng(7), cuts=6))
    clock = 1.3
    model = build_p4(pair, clock)
    set_choice(model, 0, 0, clock)  # MindtPy starts from this binary choice
    results = solve_with_mindtpy(model)
    if not check_optimal_termination(results):
        pytest.fail(f"MindtPy on P4: {results.solver.termination_condition}")
    chosen = max(model.cuts, key=lambda c: model.cut_choice[0, c].value)
    by_hand = min(range(len(pair.cuts)), key=lambda c: hand_cost(pair, c, clock))
    assert best_cut_at(pair, clock) == by_hand
    assert hand_cost(pair, chosen, clock) == pytest.approx(hand_cost(pair, by_hand, clock), abs=1e-9)


def test_p1_units_and_size():
    inputs = load_card()
    result = solve_state(inputs, build_profile(inputs), "Normal")
    model = build_p1(result.pairs[:3])
    assert_units_consistent(model)
    assert sum(1 for _ in model.component_data_objects(pyo.Var)) == 3 * 33 + 3 + 3  # one-hot, clock, cost
    assert sum(1 for _ in model.component_data_objects(pyo.Constraint)) == 3 + 3 * 33


@pytest.mark.parametrize("seed", range(3))
def test_p1_by_scip_equals_card_on_random_horizons(seed):
    """SCIP proves P1 over a random horizon; its cuts are CARD's and its U equal CARD's, judged by hand."""
    rng = np.random.default_rng(300 + seed)
    pairs = [replace(with_xi(random_pair(rng, cuts=5)), device=str(m), round=n) for n in (1, 2) for m in range(3)]
    ours = [card_algorithm1(pair) for pair in pairs]
    solved = solve_p1_by_scip(pairs)
    if not solved.optimal or solved.gap > 1e-9:
        pytest.fail(f"SCIP: status {solved.status}, gap {solved.gap}")
    assert [d.cut for d in solved.decisions] == [d.cut for d in ours]
    for pair, by_scip, decision in zip(pairs, solved.decisions, ours):
        assert hand_cost(pair, by_scip.cut, by_scip.clock_ghz) == pytest.approx(
            hand_cost(pair, decision.cut, decision.clock_ghz), abs=1e-9)
    assert solved.dual_bound <= sum(hand_cost(p, d.cut, d.clock_ghz) for p, d in zip(pairs, ours)) + 1e-8


def test_p3_at_every_cut_in_one_nlp_equals_the_closed_form():
    rng = np.random.default_rng(11)
    pairs = [with_xi(random_pair(rng, cuts=4)) for _ in range(3)]
    for pair, row in zip(pairs, solve_p3_every_cut_at_once(pairs, IpoptSolver())):
        for by_ipopt in row:
            assert by_ipopt.clock_ghz == pytest.approx(eq16_optimal_clock_ghz(pair), abs=1e-7)


def random_round(rng, devices: int, w: float | None = None, cuts: int = 4) -> list[PairCosts]:
    weight = rng.uniform(0.1, 0.9) if w is None else w
    return [replace(with_xi(random_pair(rng, cuts=cuts, w=weight)), device=str(m), round=1) for m in range(devices)]


def grid_round_optimum(pairs) -> float:
    """The round's optimum by brute force, no solver: every clock of a fine grid on the shared range (and its
    two ends), every device's best cut there, by the hand-written cost."""
    low, high = max(p.clock_min_ghz for p in pairs), min(p.clock_max_ghz for p in pairs)
    grid = np.linspace(low, high, 20001)
    return float(sum(np.min([hand_cost(p, c, grid) for c in range(len(p.server_work))], axis=0) for p in pairs).min())


@pytest.mark.parametrize("case", ["random-1", "random-2", "tie", "clock at F_min", "clock at F_max"])
def test_per_round_clock_by_scip_equals_the_global_search(case):
    """One clock per round: SCIP's proven optimum against the independent search over the round's clock (to
    1e-9), and that search against a brute-force grid (to the grid's resolution)."""
    rng = np.random.default_rng(len(case) + 7 * case.endswith("2"))
    if case == "tie":  # two identical devices, and every device's last two cuts cost the same
        pairs = random_round(rng, 2)
        pairs.append(replace(pairs[0], device="twin"))
        pairs = [replace(p, **{k: np.append(getattr(p, k), getattr(p, k)[-1]) for k in
                               ("device_compute_s", "server_work", "transfer_s")}) for p in pairs]
    elif case == "clock at F_min":
        pairs = random_round(rng, 3, w=0.0)  # energy only: the lowest clock
    elif case == "clock at F_max":
        pairs = random_round(rng, 3, w=1.0)  # delay only: the highest clock
    else:
        pairs = random_round(rng, 4)
    clock, value, cuts = per_round_optimum(pairs)
    solved = solve_p1_by_scip(pairs, per_round_clocks(pairs), form="perspective")
    if not solved.optimal:
        pytest.fail(f"SCIP: status {solved.status}")
    assert len({d.clock_ghz for d in solved.decisions}) == 1
    assert solved.total_cost == pytest.approx(value, abs=1e-9)
    assert sum(hand_cost(p, c, clock) for p, c in zip(pairs, cuts)) == pytest.approx(value, abs=1e-12)
    assert value <= grid_round_optimum(pairs) + 1e-12
    low, high = max(p.clock_min_ghz for p in pairs), min(p.clock_max_ghz for p in pairs)
    if case == "clock at F_min":
        assert clock == pytest.approx(low, abs=1e-12)
    if case == "clock at F_max":
        assert clock == pytest.approx(high, abs=1e-12)


def test_per_round_clock_run_reports_both_clock_models(tmp_path):
    out = tmp_path / "card"
    assert main(["model=card", f"out={out}", "rounds=2", "server_clock=per_round", "progress=false"]) == EXIT_OK
    rows = {r["server_clock"]: r for r in csv.DictReader(open(out / "server_clocks.csv"))}
    assert set(rows) == {"per_device", "per_round"}
    assert float(rows["per_round"]["cost_of_restriction"]) >= -1e-9  # a restriction cannot help
    per_round = list(csv.DictReader(open(out / "decisions_per_round.csv")))
    for n in ("1", "2"):  # one clock per round
        assert len({r["server_clock_hz"] for r in per_round if r["round"] == n}) == 1
    checks = list(csv.DictReader(open(out / "crosscheck.csv")))
    assert checks[-1]["check"].startswith("per-round clock") and all(r["verdict"] == "PASS" for r in checks)


def test_scip_time_limit_names_the_bounds(tmp_path, capsys):
    out = tmp_path / "card"
    assert main(["model=card", f"out={out}", "crosscheck.time_limit=0.001", "progress=false"]) == EXIT_SOLVE
    error = capsys.readouterr().err
    assert "SCIP" in error and "maxTimeLimit" in error and "dual bound" in error and "crosscheck.time_limit" in error
    assert not out.exists()


def test_perspective_form_and_p3_blocks_units_and_docs():
    from models.card import build_p3_every_cut
    inputs = load_card()
    pairs = solve_state(inputs, build_profile(inputs), "Normal").pairs[:10]
    for model in (build_p1(pairs, clock_groups=per_round_clocks(pairs), form="perspective"),
                  build_p3_every_cut(pairs[:2])):
        assert_units_consistent(model)
        for component in model.component_objects((pyo.Var, pyo.Constraint, pyo.Expression, pyo.Objective)):
            assert component.doc and "(" in component.doc, component.local_name
    per_round = build_p1(pairs, clock_groups=per_round_clocks(pairs), form="perspective")
    assert len(per_round.clock) == len({pair.round for pair in pairs})  # one clock per round


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
        "summary", "decisions", "benchmarks", "profile", "out_of_range", "crosscheck", "fig3_statements", "figures"]
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


@pytest.mark.parametrize("override", ["channel_state=Stormy", "w=2", "rounds=0", "server_clock=per_gpu",
                                      "crosscheck.minlp=gurobi", "crosscheck.rounds=some", "crosscheck.time_limit=0"])
def test_card_bad_overrides(tmp_path, override, capsys):
    assert main(["model=card", override, f"out={tmp_path / 'x'}"]) == EXIT_INPUT
    assert override.split("=")[0] in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
