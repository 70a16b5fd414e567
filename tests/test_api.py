"""The notebook API: the command line's runs, tables as DataFrames equal to the CLI's CSVs, one exception
for every input problem."""

from __future__ import annotations

import csv
import math
import shutil

import pandas as pd
import pytest

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from solvers import api
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def same_cell(value, text: str) -> bool:
    """A DataFrame cell against the CLI's CSV text: numbers to 1e-12, empty for None/NaN, text as written
    (a CSV cell neutralised with a leading apostrophe is the same text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return text == ""
    if isinstance(value, bool):
        return text == str(value)
    if isinstance(value, (int, float)):
        return math.isclose(float(text), float(value), rel_tol=1e-12, abs_tol=1e-300)
    return text == str(value) or text == "'" + str(value)


RUN_DEPENDENT = ("run_date", "command", "git_commit")  # summary rows that differ between two runs


def assert_frames_equal_csvs(result, folder):
    """Every table's columns, rows and cells; what depends on when and how fast the run was is skipped."""
    for name, data in result.tables.items():
        rows = csv_rows(folder / f"{name}.csv")
        assert rows[0] == list(data.columns), name
        assert len(rows) - 1 == len(data), name
        timed = {i for i, column in enumerate(rows[0]) if column in ("seconds", "solve_time")}
        for record, row in zip(data.itertuples(index=False, name=None), rows[1:]):
            if name == "summary" and (row[0] in RUN_DEPENDENT or "time" in row[0] or "seconds" in row[0]):
                continue
            for index, (value, text) in enumerate(zip(record, row)):
                assert index in timed or same_cell(value, text), (name, row, value, text)


def test_card_api_equals_the_command_line(tmp_path):
    result = api.card(DEFAULT_CARD_WORKBOOK, rounds=2, channel_state="Poor")
    assert isinstance(result.decisions, pd.DataFrame) and isinstance(result.summary, pd.DataFrame)
    assert {"summary", "decisions", "benchmarks", "crosscheck"} <= set(result.tables)
    assert result.decisions.attrs["units"]["server_clock_hz"] == "Hz"
    out = tmp_path / "cli"
    assert main(["model=card", f"data={DEFAULT_CARD_WORKBOOK}", "rounds=2", "channel_state=Poor", "progress=false",
                 f"out={out}"]) == EXIT_OK
    assert_frames_equal_csvs(result, out)
    written = result.write(tmp_path / "from-api")
    assert sorted(p.name for p in written.iterdir()) == sorted(p.name for p in out.iterdir())
    with pytest.raises(Exception, match="already exists"):
        result.write(tmp_path / "from-api")


def test_fedsllm_api_equals_the_command_line(tmp_path):
    overrides = dict(eta__step=0.1, problem16=False, global_eta__enabled=False)
    result = api.fedsllm(None, **overrides)
    out = tmp_path / "cli"
    assert main(["eta.step=0.1", "problem16=false", "global_eta.enabled=false", "progress=false",
                 f"out={out}"]) == EXIT_OK
    assert_frames_equal_csvs(result, out)
    assert result.allocation["bandwidth_main_mhz"].sum() > 0


def test_every_problem_in_one_exception(tmp_path):
    with pytest.raises(api.InputProblems) as caught:
        api.card(DEFAULT_CARD_WORKBOOK, w=2, rounds=0, crosscheck__rounds="some")
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("w=2") for p in problems) and any(p.startswith("rounds=0") for p in problems)
    broken = tmp_path / "broken.xlsx"
    shutil.copy(DEFAULT_CARD_WORKBOOK, broken)
    import openpyxl
    workbook = openpyxl.load_workbook(broken)
    workbook["devices"]["C2"] = -5  # a negative clock
    workbook["devices"]["F3"] = "far"  # a distance that is text
    workbook.save(broken)
    with pytest.raises(api.InputProblems) as caught:
        api.card(broken)
    assert len(caught.value.issues) == 2
    assert all("broken.xlsx" in p and "devices" in p for p in caught.value.problems)
    with pytest.raises(api.InputProblems, match="has no key"):
        api.fedsllm(None, eta__stepp=0.1)
