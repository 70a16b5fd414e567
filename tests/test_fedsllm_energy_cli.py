"""objective=energy and study=pareto end to end: the reports against independent computations, bad input
refused with a clear message (exit 2, nothing written), the front on Dask and through the notebook API."""

from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pytest
from scipy.optimize import minimize_scalar

from solvers.app.cli import main
from data.errors import EXIT_INPUT
from solvers.app.jobs import EXIT_OK
from tests.conftest import SPEC_PARAMETERS, users_table
from tests.reference_fedsllm_energy import energy_case, identical_users

IDENTICAL = users_table([-105.0] * 4, samples=[1500] * 4, cycles=[2.5e4] * 4)
PARAMETERS = {**SPEC_PARAMETERS, "bandwidth_main_hz": 10e6, "bandwidth_fed_hz": 2e6, "kappa": 2e-28, "eta_step": 0.05}


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def summary_of(folder) -> dict[str, str]:
    return {row["name"]: row["value"] for row in read_csv(folder / "summary.csv")}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    from data.fedsllm.generate import write_fedsllm_workbook

    return write_fedsllm_workbook(tmp_path_factory.mktemp("energy") / "identical.xlsx", IDENTICAL, PARAMETERS)


@pytest.fixture(scope="module")
def energy_report(workbook):
    out = workbook.parent / "energy-report"
    code = main(["model=fedsllm", "objective=energy", "energy.max_delay_factor=1.5", f"data={workbook}",
                 f"out={out}", "progress=false"])
    return code, out


def test_the_energy_run_writes_its_report(energy_report):
    code, out = energy_report
    assert code == EXIT_OK
    assert openpyxl.load_workbook(out / "fedsllm.xlsx").sheetnames == [
        "summary", "allocation", "eta_sweep", "energy_kkt", "baselines", "figures"]
    assert (out / "energy_eta.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / "energy_eta.pdf").exists()
    summary = summary_of(out)
    assert summary["certificate"] == "PASS" and summary["eta_bound_status"] == "certified"
    assert float(summary["T"]) <= float(summary["T_max"]) * (1 + 1e-9)
    assert float(summary["T_max"]) == pytest.approx(1.5 * float(summary["T_star"]), rel=1e-12)
    parts = sum(float(summary[f"E_{part}"]) for part in ("client", "server", "main", "fed"))
    assert parts == pytest.approx(float(summary["E"]), rel=1e-12)


def test_the_energy_optimum_matches_the_closed_form_over_eta(energy_report):
    """Identical users: the reference's E*(eta) minimised over eta by scipy, at the report's T_max."""
    from data.fedsllm.generate import fedsllm_inputs_in_memory
    from solvers.fedsllm.scenario import SplitScenario
    from solvers.fedsllm.structured import solve_structured

    _, out = energy_report
    summary = summary_of(out)
    max_delay, eta = float(summary["T_max"]), float(summary["eta"])
    case = energy_case(PARAMETERS, IDENTICAL)
    split = SplitScenario.from_inputs(fedsllm_inputs_in_memory(IDENTICAL, PARAMETERS))
    assert solve_structured(split, eta).T <= max_delay
    found = minimize_scalar(lambda e: identical_users(case, e, max_delay)["energy_j"], bounds=(eta - 0.05, eta + 0.05),
                            method="bounded", options={"xatol": 1e-8})
    assert float(summary["E"]) == pytest.approx(found.fun, rel=1e-7)
    assert float(summary["eta_lower_bound"]) <= found.fun * (1 + 1e-12)
    reference = identical_users(case, eta, max_delay)
    assert float(summary["server_clock"]) == pytest.approx(reference["server_hz"], rel=1e-5)


def test_the_energy_allocation_is_feasible_by_hand(energy_report):
    _, out = energy_report
    rows = read_csv(out / "allocation.csv")
    assert [k for k in rows[0]][:10] == ["user", "client_cpu_hz", "power_main_mw", "power_fed_mw", "bandwidth_main_mhz",
                                         "bandwidth_fed_mhz", "time_main_s", "time_fed_s", "delay_s", "delay_binds"]
    assert sum(float(r["bandwidth_main_mhz"]) for r in rows) <= 10.0 * (1 + 1e-12)
    assert sum(float(r["bandwidth_fed_mhz"]) for r in rows) <= 2.0 * (1 + 1e-12)
    for row in rows:
        assert float(row["power_main_mw"]) <= 10.0 * (1 + 1e-9) and float(row["client_cpu_hz"]) <= 2e9
        # the rate at the reported power carries the smashed data in the reported time (16b)
        b, p = float(row["bandwidth_main_mhz"]) * 1e6, float(row["power_main_mw"]) * 1e-3
        snr = p * 10 ** (-105 / 10) / (10 ** ((-174 - 30) / 10) * b)
        assert b * np.log2(1 + snr) * float(row["time_main_s"]) == pytest.approx(281e3, rel=1e-9)
        assert row["delay_binds"] == "yes"


def test_the_least_energy_at_t_star_is_the_delay_optimum_at_full_power(workbook):
    out = workbook.parent / "at-t-star"
    assert main(["model=fedsllm", "objective=energy", "energy.max_delay_factor=1", f"data={workbook}", f"out={out}",
                 "progress=false"]) == EXIT_OK
    summary = summary_of(out)
    assert float(summary["E"]) == pytest.approx(float(summary["E_at_T_star"]), rel=1e-12)
    for row in read_csv(out / "allocation.csv"):
        assert float(row["client_cpu_hz"]) == pytest.approx(2e9, rel=1e-12)
        assert float(row["power_main_mw"]) == pytest.approx(10.0, rel=1e-9)
        assert float(row["power_fed_mw"]) == pytest.approx(10.0, rel=1e-9)
    assert summary["certificate"] == "PASS"


@pytest.mark.parametrize("overrides,words", [
    (["energy.max_delay_s=1"], "infeasible: T_max below the least delay T* = "),
    (["energy.max_delay_factor=0.9"], "energy.max_delay_factor=0.9: expected a finite number >= 1"),
    (["energy.max_delay_s=-5"], "energy.max_delay_s=-5.0: expected a finite number > 0"),
    (["study=power_sweep"], "objective=energy with study=power_sweep: expected study=optimum"),
    (["pareto.points=1"], "pareto.points=1: expected a whole number >= 2 and <= 200"),
])
def test_bad_energy_settings_exit_2_and_write_nothing(workbook, tmp_path, capsys, overrides, words):
    out = tmp_path / "out"
    code = main(["model=fedsllm", "objective=energy", f"data={workbook}", f"out={out}", "progress=false",
                 *overrides])
    error = capsys.readouterr().err
    assert code == EXIT_INPUT and words in error, error
    assert "Traceback" not in error and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_front_on_dask_through_the_notebook_api(workbook, tmp_path):
    from solvers import api

    result = api.fedsllm(workbook, study="pareto", pareto__points=3, pareto__max_factor=4, dask__workers=2,
                         energy__certify_eta=False)  # the bound over eta has its own tests
    front = result.front
    assert set(front["strategy"]) == {"Proposed", "EB", "FE", "BA"}
    ok = front[front["status"] == "ok"]
    assert (front["status"] != "failed").all()
    assert (ok["energy_j"] >= ok["lower_bound_j"] * (1 - 1e-12)).all()
    for _, mine in ok.groupby("strategy"):
        energies = mine.sort_values("max_delay_s")["energy_j"].to_numpy()
        assert np.all(np.diff(energies) <= energies[:-1] * 1e-9)  # E*(T_max) does not increase
    by = {(r.strategy, round(r.max_delay_s, 6)): r.energy_j for r in ok.itertuples()}
    for (strategy, limit), energy in by.items():  # a strategy that fixes more never spends less
        for looser in {"EB": ["Proposed"], "FE": ["Proposed"], "BA": ["EB", "FE", "Proposed"]}.get(strategy, []):
            if (looser, limit) in by:
                assert by[looser, limit] <= energy * (1 + 1e-6), (looser, strategy, limit)
    least = float(result.summary.set_index("name").loc["T_star", "value"])
    first = ok[(ok["strategy"] == "Proposed")].sort_values("max_delay_s").iloc[0]
    assert first["max_delay_s"] == pytest.approx(least, rel=1e-12)
    written = result.write(tmp_path / "front")
    assert (written / "pareto.png").exists() and (written / "front.csv").exists()
    assert len(read_csv(written / "front.csv")) == len(front)
