"""The notebook API: the command line's runs in memory, tables as DataFrames equal to the CLI's CSVs, edited
tables validated like a workbook, one exception type for every problem, nothing written until asked."""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from data.fedsllm.inputs import DEFAULT_WORKBOOK
from solvers import api
from solvers.runtime.ipopt import SolveError
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


RUN_DEPENDENT = ("run_date", "command", "git_commit", "input")  # summary rows that differ (the API names its
# input as the tables in memory)


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
    with pytest.raises(api.FedsplitError) as caught:
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
    with pytest.raises(api.FedsplitError) as caught:
        api.card(broken)
    assert len(caught.value.issues) == 2
    assert all("broken.xlsx" in p and "devices" in p for p in caught.value.problems)
    with pytest.raises(api.FedsplitError, match="has no key"):
        api.fedsllm(None, eta__stepp=0.1)


ROOT = Path(__file__).resolve().parents[1]


def run_script(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    """`code` as a plain script in a fresh Python, in an empty folder, with a temporary directory of its own."""
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    script = work / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch)}
    return subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_readme_notebook_lines_run_in_memory_from_a_plain_script(tmp_path):
    """The issue's notebook lines, verbatim but for the workbook's path: nothing appears in the temporary
    directory or the working folder until result.write, and then only the report."""
    completed = run_script(tmp_path, f"""
        import os, tempfile
        before_tmp, before_cwd = sorted(os.listdir(tempfile.gettempdir())), sorted(os.listdir("."))
        from solvers import api
        scenario = api.load({str(DEFAULT_WORKBOOK)!r})          # the model is read from the workbook
        scenario.parameters.loc["bandwidth_main_hz", "value"] = 10e6   # DataFrames, editable
        scenario.users["power_main_max_dbm"] = 15
        result = api.solve(scenario, eta__step=0.02)      # typed settings; validated like a workbook
        result.summary, result.allocation                  # DataFrames with attrs["units"]
        assert result.solved and result.figure("eta_sweep") is not None
        assert sorted(os.listdir(tempfile.gettempdir())) == before_tmp, os.listdir(tempfile.gettempdir())
        assert sorted(os.listdir(".")) == before_cwd + ["script.py"] or sorted(os.listdir(".")) == before_cwd
        summary = dict(zip(result.summary["name"], result.summary["value"]))
        print(summary["T"], summary["eta_step"], result.allocation.attrs["units"]["bandwidth_main_mhz"])
        result.write("results/x")                          # only now is anything written
        assert sorted(os.listdir(".")) == sorted(before_cwd + ["results"])
        assert sorted(os.listdir(tempfile.gettempdir())) == before_tmp
    """)
    assert completed.returncode == 0, completed.stderr
    T, step, unit = completed.stdout.split()
    assert float(step) == 0.02 and unit == "MHz"
    report = tmp_path / "work" / "results" / "x"
    assert {"summary.csv", "allocation.csv", "eta_sweep.png", "config.yaml", "input", "fedsllm.xlsx"} <= {
        p.name for p in report.iterdir()}
    written = api.load(report / "input" / "fedsllm.xlsx")  # the input copy is the edited tables
    assert written.parameters.loc["bandwidth_main_hz", "value"] == 10e6
    assert set(written.users["power_main_max_dbm"]) == {15}
    # the same edits on a workbook file give the same optimum (to the solver's tolerance)
    same = api.solve(written, eta__step=0.02)
    assert float(dict(zip(same.summary["name"], same.summary["value"]))["T"]) == pytest.approx(float(T), rel=1e-9)


def test_edited_tables_are_validated_like_a_workbook():
    scenario = api.load(DEFAULT_WORKBOOK)
    scenario.parameters.loc["eta_step", "value"] = 0.9
    scenario.users.loc[2, "samples"] = "many"
    scenario.users.loc[4, "gain_main_db"] = 5.0
    with pytest.raises(api.FedsplitError) as caught:
        api.solve(scenario)
    issues = {(i.sheet, i.row, i.column.split()[0]) for i in caught.value.issues}
    # DataFrame row i is workbook row i + 2 (the header is row 1)
    eta_step_row = list(scenario.parameters.index).index("eta_step") + 2
    assert issues == {("parameters", eta_step_row, "'value'"), ("users", 4, "'samples'"),
                      ("users", 6, "'gain_main_db'")}
    assert caught.value.exit_code == 2 and len(caught.value.problems) == 3


def test_a_failed_solve_says_so_before_its_tables_are_read():
    result = api.fedsllm(None, solver__max_iter=1, global_eta__enabled=False, problem16=False, eta__step=0.25)
    assert not result.solved and "no solution" in repr(result)
    assert isinstance(result.failure, SolveError) and result.failure.exit_code == 3
    with pytest.raises(SolveError, match="did not reach an optimum"):
        result.summary
    with pytest.raises(SolveError):
        result.write("never")
    assert not Path("never").exists()


def test_a_study_without_the_main_guard_is_refused_in_one_line(tmp_path):
    completed = run_script(tmp_path, """
        from solvers import api
        api.fedsllm(None, study="monte_carlo", drops=2, users=5)
    """)
    assert completed.returncode != 0
    last = completed.stderr.strip().splitlines()[-1]
    assert 'if __name__ == "__main__":' in last and "script.py, line 3" in last
    assert "Nanny" not in completed.stderr and len(completed.stderr.splitlines()) < 15


def test_a_guarded_study_from_a_plain_script_runs_and_leaves_nothing_behind(tmp_path):
    completed = run_script(tmp_path, """
        import os, tempfile
        from solvers import api

        if __name__ == "__main__":
            before_tmp, before_cwd = sorted(os.listdir(tempfile.gettempdir())), sorted(os.listdir("."))
            study = api.fedsllm(None, study="monte_carlo", drops=2, users=5, dask__workers=1)
            assert study.solved and set(study.means["strategy"]) == {"Proposed", "EB", "FE", "BA"}
            assert sorted(os.listdir(tempfile.gettempdir())) == before_tmp, os.listdir(tempfile.gettempdir())
            assert sorted(os.listdir(".")) == before_cwd
            print(study.headline["runs"])
    """)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split()[-1] == "8"  # 2 drops x 4 strategies


def test_sensitivity_factors_are_given_as_a_dict_and_checked_like_the_command_lines():
    from solvers.api import typed_settings

    settings = typed_settings("fedsllm", {"study": "sensitivity",
                                          "sensitivity__parameters": {"bandwidth_main_hz": [5e6, 4e7]}})
    assert settings.sensitivity.parameters == {"bandwidth_main_hz": [5e6, 4e7]}
    with pytest.raises(api.FedsplitError) as refused:
        typed_settings("fedsllm", {"study": "sensitivity", "sensitivity__parameters": {"client_share_max": [0.5, 1.5]}})
    assert "client_share_max=[0.5, 1.5]: outside client_share_max's allowed range" in str(refused.value)
