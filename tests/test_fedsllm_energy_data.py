"""The energy parameters in the workbook, and the energy of the delay run's allocations, by hand."""

from __future__ import annotations

import csv
import math

import numpy as np
import openpyxl
import pytest

from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from data.issues import InputError
from solvers.app.cli import main
from data.errors import EXIT_INPUT
from solvers.app.jobs import EXIT_OK
from tests.conftest import SPEC_PARAMETERS, users_table

USERS = users_table([-96.0, -104.0, -113.0], samples=[900, 1300, 1100], cycles=[1.2e4, 2.9e4, 2.0e4])
PARAMETERS = {"eta_step": 0.05, "bandwidth_fed_hz": 4e6, "kappa": 2e-28, "server_kappa": 0.5e-28}


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_shipped_workbook_holds_the_spec_energy_defaults():
    inputs = load_fedsllm()
    assert inputs.parameter("kappa") == 1e-28 and inputs.parameter("server_kappa") == 1e-28
    rows = {row[0]: row for row in openpyxl.load_workbook(DEFAULT_WORKBOOK)["parameters"].iter_rows(
        min_row=2, values_only=True)}
    assert rows["kappa"][1:3] == (1e-28, "J/(cycle Hz^2)")
    assert rows["server_kappa"][1:3] == (1e-28, "J/(cycle Hz^2)")


def test_the_shipped_workbook_keeps_its_styles_for_the_new_rows():
    sheet = openpyxl.load_workbook(DEFAULT_WORKBOOK)["parameters"]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "server_kappa")
    checked = {str(cell) for check in sheet.data_validations.dataValidation for cell in check.sqref}
    assert f"B{row}" in checked and sheet.freeze_panes == "A2" and sheet.cell(1, 1).font.bold


def test_energy_parameters_are_read_back_from_a_written_workbook(make_workbook):
    inputs = load_fedsllm(make_workbook(USERS, {"kappa": 3.5e-28, "server_kappa": 7e-29}))
    assert inputs.parameter("kappa") == 3.5e-28 and inputs.parameter("server_kappa") == 7e-29


def test_a_workbook_without_the_energy_rows_uses_the_defaults(broken_copy):
    def drop_energy_rows(workbook):
        sheet = workbook["parameters"]
        for row in sorted((r for r in range(2, sheet.max_row + 1)
                           if sheet.cell(r, 1).value in ("kappa", "server_kappa")), reverse=True):
            sheet.delete_rows(row)

    inputs = load_fedsllm(broken_copy(drop_energy_rows))
    assert inputs.parameter("kappa") == 1e-28 and inputs.parameter("server_kappa") == 1e-28


@pytest.mark.parametrize("name,value", [("kappa", -1e-28), ("server_kappa", 1e-18), ("kappa", "fast")])
def test_bad_energy_parameters_are_named(broken_copy, name, value):
    def change(workbook):
        sheet = workbook["parameters"]
        row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == name)
        sheet.cell(row, 2).value = value

    with pytest.raises(InputError) as caught:
        load_fedsllm(broken_copy(change))
    (issue,) = caught.value.issues
    assert f"of '{name}'" in str(issue) and "a finite number >= 0 and <= 1e-20 (J/(cycle Hz^2))" in str(issue)


def test_a_negative_kappa_through_the_cli_exits_2_and_writes_nothing(make_workbook, tmp_path, capsys):
    workbook = make_workbook(USERS, {**PARAMETERS, "kappa": -1e-28})
    out = tmp_path / "out"
    code = main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false"])
    error = capsys.readouterr().err
    assert code == EXIT_INPUT and "of 'kappa'" in error and "expected a finite number >= 0" in error
    assert not out.exists() and "Traceback" not in error


@pytest.fixture(scope="module")
def delay_report(tmp_path_factory):
    from data.fedsllm.generate import write_fedsllm_workbook

    folder = tmp_path_factory.mktemp("energy-of-delay")
    workbook = write_fedsllm_workbook(folder / "in.xlsx", USERS, {**SPEC_PARAMETERS, **PARAMETERS})
    out = folder / "report"
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false"]) == EXIT_OK
    return out


def spec_round_energy(eta, time_main, time_fed, power_w=0.01):
    """The spec's per-user energy per training, written out by hand: clocks at 2 GHz and 20 GHz, 10 dBm."""
    p = {**SPEC_PARAMETERS, **PARAMETERS}
    a = 2 * p["L"] ** 2 / (p["gamma"] ** 2 * p["xi"]) * math.log(1 / p["eps0"])
    v = 2 / ((2 - p["L"] * p["delta"]) * p["delta"] * p["gamma"])
    log2 = math.log2(1 / eta)
    work = v * USERS["cycles_per_sample"] * USERS["samples"] * log2
    share = p["client_share_min"]
    client = p["kappa"] * share * work * 2e9 ** 2
    server = p["server_kappa"] * (1 - share) * work * 20e9 ** 2
    main_up = v * log2 * power_w * np.asarray(time_main)
    fed_up = power_w * np.asarray(time_fed)
    return a / (1 - eta), client, server, main_up, fed_up


def test_the_allocation_energy_columns_follow_the_spec(delay_report):
    rows = read_csv(delay_report / "allocation.csv")
    summary = {row["name"]: row["value"] for row in read_csv(delay_report / "summary.csv")}
    eta = float(summary["eta"])
    rounds, client, server, main_up, fed_up = spec_round_energy(
        eta, [float(r["time_main_s"]) for r in rows], [float(r["time_fed_s"]) for r in rows])
    for index, row in enumerate(rows):
        assert float(row["energy_client_j"]) == pytest.approx(rounds * client[index], rel=1e-12)
        assert float(row["energy_server_j"]) == pytest.approx(rounds * server[index], rel=1e-12)
        assert float(row["energy_main_j"]) == pytest.approx(rounds * main_up[index], rel=1e-12)
        assert float(row["energy_fed_j"]) == pytest.approx(rounds * fed_up[index], rel=1e-12)
        parts = [float(row[f"energy_{part}_j"]) for part in ("client", "server", "main", "fed")]
        assert float(row["energy_j"]) == pytest.approx(sum(parts), rel=1e-12)


def test_the_baselines_energy_follows_the_spec(delay_report):
    """BA and EB by hand on the equal split (t = s / r at p^max); Proposed equal to the allocation's sum."""
    baselines = {row["strategy"]: row for row in read_csv(delay_report / "baselines.csv")}
    p = {**SPEC_PARAMETERS, **PARAMETERS}
    snr = 10 ** ((USERS["gain_main_db"] + 10 - p["noise_psd_dbm_per_hz"]) / 10)  # g p / N0 in Hz
    rate_main = p["bandwidth_main_hz"] / 3 * np.log2(1 + snr / (p["bandwidth_main_hz"] / 3))
    rate_fed = p["bandwidth_fed_hz"] / 3 * np.log2(1 + snr / (p["bandwidth_fed_hz"] / 3))
    for name in ("BA", "EB"):
        eta = float(baselines[name]["eta"])
        rounds, client, server, main_up, fed_up = spec_round_energy(eta, p["smashed_bits"] / rate_main,
                                                                    p["model_upload_bits"] / rate_fed)
        assert float(baselines[name]["energy_j"]) == pytest.approx(
            rounds * float(np.sum(client + server + main_up + fed_up)), rel=1e-10)
        assert float(baselines[name]["energy_server_j"]) == pytest.approx(rounds * server.sum(), rel=1e-12)
    allocation = read_csv(delay_report / "allocation.csv")
    assert float(baselines["Proposed"]["energy_j"]) == pytest.approx(
        sum(float(r["energy_j"]) for r in allocation), rel=1e-9)
    # FE's computation depends on its eta alone (clocks at their maxima)
    rounds, client, server, _, _ = spec_round_energy(0.1, 0.0, 0.0)
    assert float(baselines["FE"]["energy_client_j"]) == pytest.approx(rounds * client.sum(), rel=1e-12)
    assert float(baselines["FE"]["energy_server_j"]) == pytest.approx(rounds * server.sum(), rel=1e-12)
