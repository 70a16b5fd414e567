"""The command line as users meet it: output that is data, never code; paths from where you stand; Hydra's
flags; every bad input named; clean stops (Ctrl-C, SIGTERM, a closed pipe); provenance in every report."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from solvers.app.config import Study

from data.fedsllm.generate import write_fedsllm_workbook
from data.errors import EXIT_INPUT, EXIT_SOLVE
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main
from tests.conftest import SPEC_PARAMETERS, users_table

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
INJECTION = '=HYPERLINK("http://example.invalid","click")'
TINY_USERS = users_table([-96.0, -110.0, -121.0], samples=[900, 1300, 1100], cycles=[1.2e4, 2.9e4, 2.0e4])
TINY_PARAMETERS = {**SPEC_PARAMETERS, "eta_step": 0.1}
FAST = ["problem16=false", "progress=false"]


def tiny_workbook(path: Path, user_ids=None) -> Path:
    users = dict(TINY_USERS)
    if user_ids is not None:
        users["user"] = list(user_ids)
    return write_fedsllm_workbook(path, users, TINY_PARAMETERS)


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def summary_values(report: Path) -> dict[str, str]:
    with open(report / "summary.csv", newline="") as handle:
        return {row["name"]: row["value"] for row in csv.DictReader(handle)}


# --- Output is data, never code ------------------------------------------------------------

def test_text_from_a_workbook_is_written_as_text_never_as_a_formula(tmp_path):
    workbook = tiny_workbook(tmp_path / "in.xlsx", [INJECTION, "2", "@SUM(1)"])
    out = tmp_path / "report"
    assert main([f"data={workbook}", f"out={out}", *FAST]) == EXIT_OK
    sheet = openpyxl.load_workbook(out / "fedsllm.xlsx")["allocation"]  # formulas, not cached values
    ids = {sheet.cell(row, 1).value: sheet.cell(row, 1).data_type for row in range(2, 5)}
    assert ids[INJECTION] == "s" and ids["@SUM(1)"] == "s"
    with open(out / "allocation.csv", newline="") as handle:
        written = [row[0] for row in csv.reader(handle)][1:]
    assert "'" + INJECTION in written and "'@SUM(1)" in written and INJECTION not in written
    kkt_ids = {row[1] for row in csv.reader(open(out / "lemma3_kkt.csv", newline="")) if len(row) > 1}
    assert not any(value.startswith("=") for value in kkt_ids)
    # A report folder gets ordinary permissions, not mkdtemp's private 0700.
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~umask)


def test_generated_workbooks_store_text_as_text(tmp_path):
    path = tiny_workbook(tmp_path / "gen.xlsx", ["=1+1", "+2", "3"])
    sheet = openpyxl.load_workbook(path)["users"]
    assert [(sheet.cell(r, 1).value, sheet.cell(r, 1).data_type) for r in (2, 3)] == [("=1+1", "s"), ("+2", "s")]


def test_input_formulas_are_never_evaluated(tmp_path, capsys):
    workbook = tiny_workbook(tmp_path / "in.xlsx")
    book = openpyxl.load_workbook(workbook)
    book["users"]["F2"] = "=1000+200"  # a formula with no saved result: read as such, never computed
    book.save(workbook)
    assert main([f"data={workbook}", f"out={tmp_path / 'out'}", *FAST]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "row 2, column 'samples' (F): found the formula '=1000+200' with no saved result" in error
    assert not (tmp_path / "out").exists()


# --- Paths and the installed command -------------------------------------------------------

def test_relative_paths_are_taken_from_where_the_command_runs(tmp_path):
    tiny_workbook(tmp_path / "mine.xlsx")
    completed = subprocess.run([str(ROOT / "fedsplit"), "run", "data=mine.xlsx", "out=reports/first", *FAST],
                               cwd=tmp_path, capture_output=True, text=True, env=cli_env(), timeout=600)
    assert completed.returncode == EXIT_OK, completed.stderr
    assert (tmp_path / "reports" / "first" / "fedsllm.xlsx").is_file()
    assert (tmp_path / "reports" / "first" / "input" / "mine.xlsx").is_file()
    missing = subprocess.run([str(ROOT / "fedsplit"), "run", "data=nothere.xlsx"], cwd=tmp_path,
                             capture_output=True, text=True, env=cli_env(), timeout=600)
    assert missing.returncode == EXIT_INPUT
    assert f"nothere.xlsx: found no such file (looked in {tmp_path})" in missing.stderr


def test_console_script_runs_and_generate_refuses_to_overwrite(tmp_path):
    script = VENV_BIN / "fedsplit"
    help_text = subprocess.run([str(script), "run", "--help"], capture_output=True, text=True, cwd=tmp_path,
                               env=cli_env(), timeout=120)
    assert help_text.returncode == EXIT_OK and "eta.step" in help_text.stdout
    generate = [str(script), "generate", "users=3", "out=drawn.xlsx"]
    first = subprocess.run(generate, capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=120)
    assert first.returncode == 0 and (tmp_path / "drawn.xlsx").is_file()
    before = (tmp_path / "drawn.xlsx").read_bytes()
    again = subprocess.run([*generate[:-1], "out=drawn.xlsx", "seed=2"], capture_output=True, text=True,
                           cwd=tmp_path, env=cli_env(), timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and "overwrite=true" in again.stderr
    assert (tmp_path / "drawn.xlsx").read_bytes() == before
    forced = subprocess.run([*generate, "seed=2", "overwrite=true"], capture_output=True, text=True, cwd=tmp_path,
                            env=cli_env(), timeout=120)
    assert forced.returncode == 0 and (tmp_path / "drawn.xlsx").read_bytes() != before


# --- Hydra as its users know it ----------------------------------------------------------

def test_multirun_writes_one_report_per_job_and_an_index(tmp_path, capsys):
    workbook = tiny_workbook(tmp_path / "in.xlsx")
    sweep = tmp_path / "sweep"
    code = main(["-m", "eta.step=0.1,0.25", f"data={workbook}", f"out={sweep}", *FAST])
    assert code == EXIT_OK
    with open(sweep / "index.csv", newline="") as handle:
        jobs = list(csv.DictReader(handle))
    assert [job["eta.step"] for job in jobs] == ["0.1", "0.25"]  # one column per override
    assert all(job["exit_code"] == "0" and job["problem16"] == "False" for job in jobs)
    index = pd.read_csv(sweep / "index.csv")  # numbers as numbers, for pandas too
    assert index["eta.step"].dtype == "float64" and index["reduction_vs_BA"].dtype == "float64"
    for number, step in ((0, "0.1"), (1, "0.25")):
        assert (sweep / str(number) / "fedsllm.xlsx").is_file()
        assert f"step: {step}" in (sweep / str(number) / "config.yaml").read_text()
        summary = summary_values(sweep / str(number))
        assert float(jobs[number]["T_star_s"]) == pytest.approx(float(summary["T"]))
        assert float(jobs[number]["reduction_vs_BA"]) == pytest.approx(float(summary["reduction_vs_BA"]))
    assert (sweep / "index.xlsx").is_file()


def test_a_sweep_without_multirun_is_refused(capsys):
    assert main(["eta.step=0.1,0.2"]) == EXIT_INPUT
    assert "add -m (--multirun)" in capsys.readouterr().err


def test_cfg_job_prints_the_resolved_configuration(capsys):
    assert main(["--cfg", "job", "eta.step=0.02", "model=fedsllm"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "step: 0.02" in text and "max_iter: 3000" in text and "study: optimum" in text


def test_a_wrong_choice_lists_the_allowed_ones_and_a_mistyped_key_the_nearest(capsys):
    assert main(["model=card", "channel_state=Stormy"]) == EXIT_INPUT
    assert "channel_state=Stormy: expected one of Good, Normal, Poor, or null" in capsys.readouterr().err
    assert main(["study=sweep"]) == EXIT_INPUT
    assert f"study=sweep: expected one of {', '.join(s.value for s in Study)}" in capsys.readouterr().err
    assert main(["eta.stp=0.1", "+foo=1", "solver.maxiter=5"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "3 problems in the settings" in error
    assert "eta.stp=0.1: model=fedsllm has no key 'eta.stp' (did you mean eta.step?)" in error
    assert "+foo=1: model=fedsllm has no key 'foo'" in error
    assert "(did you mean solver.max_iter?)" in error


def test_overrides_are_range_checked_like_the_cells_they_replace(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["study=power_sweep", "power_sweep.powers_dbm=[10,1000]", "baseline_eta=1.5", f"out={out}"]) \
        == EXIT_INPUT
    error = capsys.readouterr().err
    assert "power_sweep.powers_dbm: 1000.0: expected a finite number >= -100 and <= 60 (dBm)" in error
    assert "baseline_eta=1.5: expected a finite number > 0 and < 1" in error
    assert main(["model=card", "crosscheck.rounds=-1", "w=2", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "crosscheck.rounds=-1: expected all, or a whole number >= 0" in error and "w=2.0: expected" in error
    assert not out.exists()


# --- Clean failures ------------------------------------------------------------------------

def start_run(tmp_path: Path, out: Path) -> subprocess.Popen:
    """A default-size run in a subprocess, returned once its eta grid has started."""
    process = subprocess.Popen([sys.executable, "-m", "solvers.run", f"out={out}"], cwd=ROOT, env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("eta grid ["):
            return process
    raise AssertionError(f"the run ended before its grid: {process.wait()}")


@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_stop_signal_ends_the_run_cleanly(tmp_path, signum, code, word):
    out = tmp_path / "report"
    process = start_run(tmp_path, out)
    time.sleep(0.5)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code
    assert f"stopped by {word}; nothing was written" in stderr
    assert "Traceback" not in stderr + stdout and "ERROR" not in stderr + stdout
    assert not out.exists() and hidden_entries(tmp_path) == []


def test_a_report_folder_left_by_a_killed_run_is_removed_by_the_next(tmp_path, capsys):
    dead = subprocess.run(["true"])  # a finished process: its pid is free (or reused by another; then kept)
    leftover = tmp_path / f".earlier.partial-{2**22 + 7}-abc"
    leftover.mkdir()
    (leftover / "summary.csv").write_text("half")
    workbook = tiny_workbook(tmp_path / "in.xlsx")
    assert dead.returncode == 0
    assert main([f"data={workbook}", f"out={tmp_path / 'report'}", *FAST]) == EXIT_OK
    assert not leftover.exists() and hidden_entries(tmp_path) == []
    assert "left by a run that was killed" in capsys.readouterr().err


def test_a_closed_pipe_does_not_lose_the_report(tmp_path):
    workbook = tiny_workbook(tmp_path / "in.xlsx")
    out = tmp_path / "report"
    command = f"'{sys.executable}' -m solvers.run data='{workbook}' out='{out}' problem16=false 2>&1 | head -1"
    completed = subprocess.run(["bash", "-c", command], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                               timeout=600)
    assert len(completed.stdout.splitlines()) == 1
    assert (out / "fedsllm.xlsx").is_file()
    help_head = subprocess.run(["bash", "-c", f"'{sys.executable}' -m solvers.run --help | head -1"], cwd=ROOT,
                               env=cli_env(), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in help_head.stderr and "BrokenPipe" not in help_head.stderr


def test_a_bad_solver_option_is_named(tmp_path, capsys):
    assert main(["+solver.options.bogus_opt=3", f"out={tmp_path / 'out'}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "bogus_opt=3" in error and "It is not a valid option" in error
    assert not (tmp_path / "out").exists()


def test_failures_stop_the_grid_early_and_leave_diagnostics_not_a_report(tmp_path, capsys):
    workbook = write_fedsllm_workbook(tmp_path / "in.xlsx", TINY_USERS, {**TINY_PARAMETERS, "eta_step": 0.02})
    out = tmp_path / "out"
    assert main([f"data={workbook}", f"out={out}", "solver.max_iter=1", *FAST]) == EXIT_SOLVE
    error = capsys.readouterr().err
    assert "3 solves did not reach an optimum" in error
    assert "stopped after its first 3 failures, at 3 of 49 points" in error
    diagnostics = tmp_path / "out.failed-diagnostics.log"
    assert str(diagnostics) in error and diagnostics.read_text().count("maxIterations") >= 3
    assert not out.exists() and hidden_entries(tmp_path) == []


def test_the_output_folder_is_checked_before_any_work(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    started = time.perf_counter()
    assert main([f"out={tmp_path / 'afile' / 'report'}"]) == EXIT_INPUT
    assert "is a file, not a folder" in capsys.readouterr().err
    assert time.perf_counter() - started < 20  # refused before the solves (a full run takes longer)


# --- Provenance ---------------------------------------------------------------------------

def test_summary_and_config_record_where_the_report_came_from(tmp_path):
    workbook = tiny_workbook(tmp_path / "in.xlsx")
    out = tmp_path / "report"
    assert main([f"data={workbook}", f"out={out}", *FAST]) == EXIT_OK
    values = summary_values(out)
    for name in ("run_date", "command", "git_commit", "python_version", "numpy_version", "scipy_version",
                 "pyomo_version", "ipopt_version", "cyipopt_version", "highs_version"):
        assert values[name], name
    assert values["python_version"] == ".".join(map(str, sys.version_info[:3]))
    config = (out / "config.yaml").read_text()
    assert "step: 0.1" in config and "low: 0.1" in config  # the workbook's eta_step, not null
    log = (out / "run.log").read_text()
    assert "Ipopt options" in log and log.count("Ipopt (17) eta=") >= 9
