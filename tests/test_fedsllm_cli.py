"""The command line end to end: report contents, and nothing written on failure."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from data.errors import EXIT_INPUT, EXIT_SOLVE
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main
from tests.conftest import SPEC_PARAMETERS, reference_scenario, users_table
from tests.reference_fedsllm import solve_reference

ROOT = Path(__file__).resolve().parents[1]
SMALL_USERS = users_table([-96.0, -104.0, -113.0, -121.0], samples=[900, 1300, 1100, 1500],
                          cycles=[1.2e4, 2.9e4, 2.0e4, 1.6e4])
SMALL_PARAMETERS = {"eta_step": 0.05, "bandwidth_fed_hz": 4e6}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary report folders left behind."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    """One real run on a four-user workbook."""
    from data.fedsllm.generate import write_fedsllm_workbook

    folder = tmp_path_factory.mktemp("run")
    workbook = write_fedsllm_workbook(folder / "small.xlsx", SMALL_USERS, {**SPEC_PARAMETERS, **SMALL_PARAMETERS})
    out = folder / "report"
    code = main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false"])
    return code, out, workbook


def test_run_writes_every_part_of_the_report(small_report):
    code, out, workbook = small_report
    assert code == EXIT_OK
    names = {p.name for p in out.iterdir()}
    assert {"fedsllm.xlsx", "summary.csv", "allocation.csv", "eta_sweep.csv", "eta_sweep.png", "config.yaml",
            "input"} <= names
    assert (out / "input" / workbook.name).read_bytes() == workbook.read_bytes()
    assert openpyxl.load_workbook(out / "fedsllm.xlsx").sheetnames == [
        "summary", "allocation", "eta_sweep", "lemma3_kkt", "baselines", "reduction", "figures"]
    summary = {row["name"]: row["value"] for row in read_csv(out / "summary.csv")}
    assert summary["certificate"] == "PASS" and summary["reduction_holds"] == "yes"
    assert (out / "eta_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(workbook) in (out / "config.yaml").read_text()
    assert leftovers(out.parent) == []


def test_reported_optimum_matches_the_independent_solution(small_report):
    _, out, _ = small_report
    summary = {row["name"]: row for row in read_csv(out / "summary.csv")}
    eta, T = float(summary["eta"]["value"]), float(summary["T"]["value"])
    assert summary["T"]["unit"] == "s"
    reference = solve_reference(reference_scenario(SMALL_USERS, SMALL_PARAMETERS), eta)
    assert T == pytest.approx(reference.T, rel=1e-6)
    assert float(summary["rounds"]["value"]) == pytest.approx(reference.T / reference.round_time, rel=1e-9)


def test_eta_sweep_and_summary_against_the_reference(small_report):
    """Every grid point's T against the independent reference at that eta; the summary's grid best and
    optimum against the reference's."""
    _, out, _ = small_report
    sweep = read_csv(out / "eta_sweep.csv")
    summary = {row["name"]: float(row["value"]) for row in read_csv(out / "summary.csv")
               if row["name"] in ("T", "T_grid", "eta_grid", "solves")}
    grid = [row for row in sweep if row["stage"] == "grid"]
    assert [round(float(row["eta"]), 9) for row in grid] == [round(0.05 * k, 9) for k in range(1, 20)]
    assert all(row["status"] == "optimal" for row in sweep)
    assert {row["stage"] for row in sweep} == {"grid", "refine", "extra", "final"}
    # The reference at the ends, the middle, and the reported grid best with its neighbours (about
    # a second per reference solve, so not all 19): T agrees and the best is a minimum of the grid.
    scenario = reference_scenario(SMALL_USERS, SMALL_PARAMETERS)
    best = round(summary["eta_grid"] / 0.05)
    checked = sorted({1, 10, 19, max(1, best - 1), best, min(19, best + 1)})
    reference = {k: solve_reference(scenario, 0.05 * k).T for k in checked}
    by_index = {round(float(row["eta"]) / 0.05): float(row["T"]) for row in grid}
    for k in checked:
        assert by_index[k] == pytest.approx(reference[k], rel=1e-6), k
    assert min(reference, key=reference.get) == best
    assert summary["T_grid"] == pytest.approx(reference[best], rel=1e-6)
    assert summary["T"] <= summary["T_grid"]
    assert summary["solves"] == len(sweep)


def test_allocation_uses_the_whole_budgets(small_report):
    _, out, _ = small_report
    rows = read_csv(out / "allocation.csv")
    assert [row["user"] for row in rows] == ["1", "2", "3", "4"]
    assert sum(float(r["bandwidth_main_mhz"]) for r in rows) == pytest.approx(20.0, rel=1e-7)
    assert sum(float(r["bandwidth_fed_mhz"]) for r in rows) == pytest.approx(4.0, rel=1e-7)
    for row in rows:
        # upload time x rate = the data it carries (Mbit)
        assert float(row["time_main_s"]) * float(row["rate_main_mbps"]) == pytest.approx(0.281, rel=1e-7)
        assert float(row["time_fed_s"]) * float(row["rate_fed_mbps"]) == pytest.approx(0.0281, rel=1e-7)
        assert float(row["share_delay"]) == pytest.approx(1.0, rel=1e-7)  # Lemma 3: (17a) tight for all


def test_excel_headers_carry_units(small_report):
    _, out, _ = small_report
    sheet = openpyxl.load_workbook(out / "fedsllm.xlsx")["eta_sweep"]
    assert sheet["B1"].value == "T (s)" and sheet["B1"].comment.text and "(-)" not in sheet["A1"].value


def test_broken_workbook_from_the_shell_lists_problems_and_writes_nothing(tmp_path, broken_copy):
    def change(workbook):
        workbook["users"]["F3"].value = "lots"
        workbook["parameters"]["B2"].value = -1
    broken = broken_copy(change)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run([sys.executable, "-m", "solvers.run", "model=fedsllm", f"data={broken}", f"out={out}"],
                               cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == EXIT_INPUT
    assert "Traceback" not in completed.stderr
    assert "2 problems in the input" in completed.stderr
    assert "sheet 'users', row 3, column 'samples' (F): found 'lots'" in completed.stderr
    assert "sheet 'parameters', row 2, column 'value' (B) of 'L': found -1" in completed.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_solver_failure_writes_nothing(tmp_path, make_workbook, capsys):
    workbook = make_workbook(SMALL_USERS, {"eta_step": 0.25})
    out = tmp_path / "out"
    code = main(["model=fedsllm", f"data={workbook}", f"out={out}", "solver.max_iter=1", "progress=false"])
    assert code == EXIT_SOLVE
    error = capsys.readouterr().err
    assert "eta = 0.25 (grid): Ipopt stopped with status 'maxIterations'" in error
    assert "raise solver.max_iter" in error
    # No report, only the diagnostics file beside it, holding every solve's status.
    diagnostics = tmp_path / "out.failed-diagnostics.log"
    assert not out.exists() and leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([diagnostics.name, workbook.name])
    assert "maxIterations" in diagnostics.read_text() and str(diagnostics) in error


@pytest.mark.parametrize("override,message", [
    ("eta.step=abc", "eta.step"),
    ("etta.step=0.1", "etta"),
    ("model=nosuchmodel", "nosuchmodel"),
])
def test_bad_overrides_are_reported(tmp_path, override, message, capsys):
    code = main(["model=fedsllm", override, f"out={tmp_path / 'out'}"])
    assert code == EXIT_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_existing_report_folder_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    assert main(["model=fedsllm", f"out={tmp_path / 'out'}"]) == EXIT_INPUT
    assert "already exists" in capsys.readouterr().err


def test_help_lists_every_key_with_its_default(capsys):
    from solvers.app.help import known_keys
    assert main(["--help"]) == EXIT_OK
    text = capsys.readouterr().out
    for model in ("fedsllm", "card"):
        for key in known_keys(model):
            assert f"  {key} " in text
    assert "[default: 3000]" in text


def test_power_sweep_study(tmp_path, make_workbook):
    powers = (0.0, 10.0, 20.0)
    workbook = make_workbook(SMALL_USERS, {**SMALL_PARAMETERS, "eta_step": 0.1})
    out = tmp_path / "sweep"
    code = main(["model=fedsllm", "study=power_sweep", "power_sweep.powers_dbm=[0,10,20]", f"data={workbook}",
                 f"out={out}", "progress=false"])
    assert code == EXIT_OK
    rows = read_csv(out / "fig2.csv")
    assert [(float(r["power_dbm"]), r["strategy"]) for r in rows] == [
        (p, s) for p in powers for s in ("Proposed", "EB", "FE", "BA")]
    # The mean reduction against the independent reference: Proposed's T by the reference at the
    # eta the run reports (checked to be a minimum: 0.01 either side is no better), BA by hand as
    # the equal split at eta = 0.1.
    reductions = []
    proposed_rows = [r for r in rows if r["strategy"] == "Proposed"]
    for power, row in zip(powers, proposed_rows):
        users = {**SMALL_USERS, "power_main_max_dbm": np.full(4, power), "power_fed_max_dbm": np.full(4, power)}
        scenario = reference_scenario(users, SMALL_PARAMETERS)
        eta = float(row["eta"])
        proposed = solve_reference(scenario, eta).T
        assert float(row["T"]) == pytest.approx(proposed, rel=1e-6)
        assert min(solve_reference(scenario, eta - 0.01).T, solve_reference(scenario, eta + 0.01).T) >= proposed
        budget_main, budget_fed = SPEC_PARAMETERS["bandwidth_main_hz"] / 4, SMALL_PARAMETERS["bandwidth_fed_hz"] / 4
        rate_main = budget_main * np.log2(1 + scenario.power_to_noise_main_hz / budget_main)
        rate_fed = budget_fed * np.log2(1 + scenario.power_to_noise_fed_hz / budget_fed)
        ba = np.max(scenario.a / 0.9 * (scenario.compute_time_s(0.1) + SPEC_PARAMETERS["model_upload_bits"] / rate_fed
                                        + scenario.local_iterations(0.1) * SPEC_PARAMETERS["smashed_bits"] / rate_main))
        reductions.append(1 - proposed / ba)
    summary = {row["name"]: row for row in read_csv(out / "summary.csv")}
    assert float(summary["mean_reduction_vs_BA"]["value"]) == pytest.approx(np.mean(reductions), rel=1e-5)
    assert (out / "fig2.png").read_bytes()[:4] == b"\x89PNG"
