"""Tables pandas and Excel users can use as they are: named after what they hold, one type per column,
display units in the workbooks with SI in the CSVs, the command as typed, a study's headline per sweep
value."""

from __future__ import annotations

import csv
import os
import shlex
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from solvers import api
from solvers.app.cli import main
from solvers.app.jobs import EXIT_OK

ROOT = Path(__file__).resolve().parents[1]


def sheet_frame(path: Path, sheet: str) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=sheet)


@pytest.fixture(scope="module")
def fedsllm_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "study"
    assert main(["study=monte_carlo", "drops=3", "users=4", "sweep.name=power_dbm", "sweep.values=[0,10]",
                 "dask.workers=1", "progress=false", f"out={out}"]) == EXIT_OK
    return out


def test_study_tables_name_the_swept_parameter_and_hold_one_type_per_column(fedsllm_study):
    means = pd.read_csv(fedsllm_study / "means.csv")
    assert "sweep_value" not in means and means["power_dbm"].dtype == "float64"
    assert sorted(means["power_dbm"].unique()) == [0.0, 10.0]
    reductions = pd.read_csv(fedsllm_study / "reductions.csv")
    assert "sweep_value" not in reductions
    for column in ("power_dbm", "mean", "std", "ci95_low", "ci95_high", "paper"):
        assert reductions[column].dtype == "float64", column
    assert reductions["drops"].dtype == "int64"
    whole = reductions[reductions["scope"] == "whole sweep"]
    points = reductions[reductions["scope"] == "sweep point"]
    assert len(whole) == 1 and whole["power_dbm"].isna().all() and sorted(points["power_dbm"]) == [0.0, 10.0]
    runs = pd.read_csv(fedsllm_study / "runs.csv")
    assert runs["power_dbm"].dtype == "float64"
    assert list(pd.read_parquet(fedsllm_study / "runs.parquet").columns) == list(runs.columns)
    units = pd.read_csv(fedsllm_study / "units.csv")
    assert (units.loc[(units["table"] == "means") & (units["column"] == "power_dbm"), "unit"] == "dBm").all()


def test_a_study_prints_its_headline_per_sweep_value():
    result = api.card(study="monte_carlo", drops=2, rounds=2, sweep__name="w", sweep__values=[0.2, 0.8],
                      dask__workers=1)
    labels = [line.strip() for line in result.lines if line.strip().startswith("w = ")]
    assert labels == ["w = 0.2:", "w = 0.8:"]
    after = result.lines.index("  w = 0.8:")
    delays = [line for line in result.lines[after:] if "CARD vs device-only" in line]
    assert len(delays) == 3  # the three channel states at w = 0.8, each with its own reduction
    reductions = result.reductions  # the API's table is the CSV's: the swept column is w
    expected = reductions[(reductions["w"] == 0.8) & reductions["comparison"].str.startswith("delay")]
    for line, mean in zip(delays, expected["mean"]):
        assert f"{mean:.1%}" in line


def read_csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def card_run(tmp_path_factory):
    """A CARD run through the repository's script, as a user types it."""
    folder = tmp_path_factory.mktemp("card")
    arguments = ["model=card", "rounds=1", "progress=false", f"out={folder / 'report'}"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FEDSPLIT_PROGRAM")}
    done = subprocess.run(["./fedsplit", "run", *arguments], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return folder / "report", arguments


def test_the_summary_says_the_command_the_user_typed(card_run):
    report, arguments = card_run
    summary = {row["name"]: row["value"] for row in read_csv_rows(report / "summary.csv")}
    assert summary["command"] == shlex.join(["./fedsplit", "run", *arguments])


def test_workbooks_show_ghz_and_mbit_s_while_the_csvs_keep_si(card_run):
    report, _ = card_run
    csv_rows = pd.read_csv(report / "decisions.csv")
    shown = sheet_frame(report / "card.xlsx", "decisions")
    assert {"server_clock_ghz", "rate_up_mbps", "rate_down_mbps"} <= set(shown.columns)
    assert {"server_clock_hz", "rate_up_bps"} <= set(csv_rows.columns)
    assert (shown["server_clock_ghz"] * 1e9).tolist() == pytest.approx(csv_rows["server_clock_hz"].tolist(), rel=1e-12)
    assert (shown["rate_up_mbps"] * 1e6).tolist() == pytest.approx(csv_rows["rate_up_bps"].tolist(), rel=1e-12)
    assert 0.001 < shown["server_clock_ghz"].min() and shown["server_clock_ghz"].max() < 100  # GHz, not Hz
    units = pd.read_csv(report / "units.csv")  # the CSVs' own units stay SI
    assert units.set_index(["table", "column"]).loc[("decisions", "server_clock_hz"), "unit"] == "Hz"


def test_headers_do_not_repeat_the_unit_their_name_carries(card_run):
    report, _ = card_run
    book = openpyxl.load_workbook(report / "card.xlsx")
    headers = [cell.value for sheet in book for cell in sheet[1] if cell.value]
    assert "delay_s" in headers and "energy_j" in headers
    assert not [h for h in headers if h.endswith(("_s (s)", "_j (J)", "_hz (Hz)", "_ghz (GHz)", "_bps (bit/s)"))]
    assert "seconds" in headers  # a name that says its unit in words


def test_kkt_users_are_typed_as_the_allocation_holds_them(tmp_path):
    out = tmp_path / "report"
    assert main(["model=fedsllm", "problem16=false", "eta.step=0.05", "progress=false", f"out={out}"]) == EXIT_OK
    allocation = pd.read_csv(out / "allocation.csv")
    checks = pd.read_csv(out / "lemma3_kkt.csv")
    assert "scope" not in checks and checks["user"].dtype != object  # numbers, not text of numbers
    per_user = checks.dropna(subset=["user"])
    assert set(per_user["user"].astype(allocation["user"].dtype)) == set(allocation["user"])
    assert checks["user"].isna().any()  # the checks over all users: no user
    joined = per_user.astype({"user": allocation["user"].dtype}).merge(allocation[["user", "delay_s"]], on="user")
    assert len(joined) == len(per_user)
    sheet = openpyxl.load_workbook(out / "fedsllm.xlsx")["lemma3_kkt"]
    header = [c.value for c in sheet[1]]
    ids = [row[header.index("user")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, int) for v in ids if v is not None)
    assert "T (s)" in [c.value for c in openpyxl.load_workbook(out / "fedsllm.xlsx")["baselines"][1]]  # a bare name
