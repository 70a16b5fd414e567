"""The front end as a new user meets it: one command with subcommands, every settings problem at once in our
words (also through the API, and with the workbook's), study keys refused without their study, a near-miss
unit named, help and completion generated from the configuration, CARD's cross-checks that can be turned
off and a SCIP solve that shows its progress."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import openpyxl
import pytest
from pyomo.contrib.solver.common.results import TerminationCondition

from data.card.generate import CardWorkbookSettings
from data.card.inputs import DEFAULT_CARD_WORKBOOK, load_card
from data.card.profile import build_profile
from data.fedsllm.generate import ScenarioSettings
from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from data.issues import InputError
from models.card import build_p1
from solvers import api
from solvers.app import script
from solvers.app.cli import main
from solvers.app.config import CardStudy, ServerClock, Study
from data.errors import EXIT_INPUT
from solvers.app.jobs import EXIT_OK
from solvers.card import scip_progress
from solvers.card.state import solve_state
from solvers.card.minlp import SCIP_FEASIBILITY_TOLERANCE
from solvers.runtime import progress as progress_module
from solvers.runtime.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
RAW_OMEGACONF = ("object_type=", "full_key:", "Error merging override", "could not be converted")


def front_end(argv: list[str], cwd: Path, script_path: Path | None = None) -> subprocess.CompletedProcess:
    """A subcommand as a user runs it: the repository's ./fedsplit, or the entry point it runs."""
    command = [str(script_path), *argv] if script_path else [sys.executable, "-P", "-m", "solvers.run", *argv]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)})


# --- generate and generate-card ----------------------------------------------------------------

def test_generate_card_is_a_subcommand_of_the_repository_script(tmp_path):
    done = front_end(["generate-card", "layers=3", "out=card3.xlsx"], tmp_path, ROOT / "fedsplit")
    assert done.returncode == EXIT_OK, done.stderr
    assert "wrote card3.xlsx (3 layers)" in done.stdout
    assert openpyxl.load_workbook(tmp_path / "card3.xlsx")["llm"]["B2"].value == 3  # layers, as written
    assert load_card(tmp_path / "card3.xlsx").llm["layers"] == 3  # and a valid CARD workbook
    drawn = front_end(["generate", "users=4", "out=four.xlsx"], tmp_path)  # python -m solvers.run generate
    assert drawn.returncode == EXIT_OK and load_fedsllm(tmp_path / "four.xlsx").user_count == 4


def key_block(text: str, key: str) -> str:
    """A key's line of --help and its wrapped continuation, as one line."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"  {key} "))
    end = next((n for n in range(start + 1, len(lines)) if not lines[n].startswith("    ")), len(lines))
    return " ".join(line.strip() for line in lines[start:end])


@pytest.mark.parametrize("name, settings", [("generate", ScenarioSettings), ("generate-card", CardWorkbookSettings)])
def test_generate_help_lists_its_keys_and_defaults(name, settings, capsys):
    assert script.main([name, "--help"]) == EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith(f"fedsplit {name}: ")
    defaults = settings()
    for item in fields(settings):
        value = getattr(defaults, item.name)
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else f"{value:g}" \
            if isinstance(value, float) else str(value)
        assert key_block(text, item.name).endswith(f"[default: {shown}]")


def test_generator_problems_are_all_named_in_our_words(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert script.main(["generate", "usres=20", "users=abc", "area_m=-1", "shadowing_std_db=8,9"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "4 problems in the settings" in error
    assert "usres=20: generate has no key 'usres' (did you mean users?)" in error
    assert "users=abc: expected a whole number" in error
    assert "area_m=-1: expected a finite number > 0" in error
    assert "shadowing_std_db=8,9: one value per key" in error
    assert script.main(["generate-card", "lyers=3", "layers=500"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "lyers=3: generate-card has no key 'lyers' (did you mean layers?)" in error
    assert "layers=500: expected a whole number >= 1 and <= 200" in error
    assert not any(raw in error for raw in RAW_OMEGACONF)
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_an_output_in_a_folder_that_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    for name in ("generate", "generate-card"):
        assert script.main([name, f"out={missing / 'x.xlsx'}"]) == EXIT_INPUT
        assert f"the folder {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()


# --- Every override problem at once -------------------------------------------------------------

def test_every_override_problem_is_listed_at_once(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["model=card", "channel_state=bad", "w=1.5", "rounds=0", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "3 problems in the settings" in error
    assert "channel_state=bad: expected one of Good, Normal, Poor, or null" in error
    assert "w=1.5: expected a finite number >= 0 and <= 1" in error
    assert "rounds=0: expected a whole number >= 1" in error
    assert main(["solver.max_iter=abc", "eta.stp=0.1", "baseline_eta=2", "solver.tol=x", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "solver.max_iter=abc: expected a whole number" in error and "solver.tol=x: expected a number" in error
    assert "eta.stp=0.1: model=fedsllm has no key 'eta.stp' (did you mean eta.step?)" in error
    assert "baseline_eta=2.0: expected a finite number > 0 and < 1" in error
    assert main(["model=card", "channel_state=good", f"out={out}"]) == EXIT_INPUT
    assert "(did you mean Good?)" in capsys.readouterr().err
    assert not any(raw in error for raw in RAW_OMEGACONF) and not out.exists()


def test_a_multirun_is_checked_job_by_job_before_any_runs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert main(["-m", "model=card", "w=0.5,3", "rounds=abc,2", f"out={sweep}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "rounds=abc: expected a whole number, or null" in error and "w=3.0: expected" in error
    assert not sweep.exists()


def test_through_the_api_an_unknown_key_hides_no_bad_value():
    with pytest.raises(api.InputProblems) as caught:
        api.fedsllm(None, eta__stepp=0.1, baseline_eta=1.5, solver__max_iter="many")
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("has no key 'eta.stepp'" in p for p in problems)
    assert any(p.startswith("baseline_eta=1.5: expected a finite number > 0 and < 1") for p in problems)
    assert any(p.startswith("solver.max_iter=many: expected a whole number") for p in problems)


def broken_card_workbook(folder: Path) -> Path:
    broken = folder / "broken.xlsx"
    shutil.copy(DEFAULT_CARD_WORKBOOK, broken)
    workbook = openpyxl.load_workbook(broken)
    workbook["devices"]["C2"] = -5  # a negative clock
    workbook.save(broken)
    return broken


def test_a_bad_override_does_not_hide_the_workbook_problems(tmp_path, capsys):
    broken = broken_card_workbook(tmp_path)
    out = tmp_path / "out"
    assert main(["model=card", f"data={broken}", "channel_state=bad", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "2 problems in the settings and the workbook" in error
    assert "channel_state=bad: expected one of" in error
    assert "broken.xlsx, sheet 'devices', row 2, column 'clock_hz' (C): found -5" in error
    assert not out.exists()
    with pytest.raises(api.InputProblems) as caught:
        api.card(broken, w=7)
    assert len(caught.value.problems) == 2 and caught.value.problems[0].startswith("w=7")
    assert [(i.sheet, i.row) for i in caught.value.issues] == [("devices", 2)]


# --- Study keys without their study ---------------------------------------------------------

def test_study_keys_without_their_study_are_refused_with_a_hint(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["model=card", "drops=5", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "drops=5: only study=monte_carlo reads this key (this run is study=decisions); add study=monte_carlo" \
        in error
    assert main(["drops=5", "sweep.name=users", "power_sweep.powers_dbm=[0,5]", f"out={out}"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "drops=5 sweep.name=users: only study=monte_carlo reads these keys" in error
    assert "power_sweep.powers_dbm=[0,5]: only study=power_sweep reads this key" in error
    assert "sweep.values" not in error  # the range of a key this study does not read is beside the point
    assert not out.exists()
    assert main(["--cfg", "job", "model=card", "study=monte_carlo", "drops=5"]) == EXIT_OK


# --- Help, completion, --cfg job, config.yaml --------------------------------------------------

def test_help_opens_with_user_text_and_lists_the_choices_from_the_configuration(capsys):
    assert main(["--help"]) == EXIT_OK
    text = capsys.readouterr().out
    opening = "\n".join(text.splitlines()[:25])
    assert text.startswith("fedsplit run: ") and "./fedsplit run" in opening
    assert ".py" not in opening and "solvers/" not in opening and "solvers.app" not in opening
    fedsllm, card = text.split("Keys of model=card")
    assert f"one of {', '.join(s.value for s in Study)} [default: optimum]" in key_block(fedsllm, "study")
    assert f"one of {', '.join(s.value for s in CardStudy)} [default: decisions]" in key_block(card, "study")
    assert f"one of {', '.join(c.value for c in ServerClock)}" in key_block(card, "server_clock")
    assert key_block(card, "drops").endswith("study=monte_carlo only [default: 100]")


def complete(script_text: str, line: str) -> list[str]:
    """What bash offers for `line` (the cursor at its end), from the completion script."""
    program = (f"{script_text}\n"
               f'COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}\n'
               'read -ra COMP_WORDS <<< "$COMP_LINE"; [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")\n'
               'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _fedsplit_complete 2>/dev/null\n'
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout.split()


def test_completion_is_generated_from_the_configuration_for_both_commands(capsys):
    assert main(["-sc", "install=bash"]) == EXIT_OK
    text = capsys.readouterr().out
    registered = subprocess.run(["bash", "-c", f"{text}\ncomplete -p fedsplit ./fedsplit"], capture_output=True,
                                text=True, check=True).stdout
    assert "_fedsplit_complete fedsplit" in registered and "_fedsplit_complete ./fedsplit" in registered
    assert complete(text, "./fedsplit ge") == ["generate", "generate-card"]
    assert complete(text, "./fedsplit run study=") == [s.value for s in Study]
    assert complete(text, "fedsplit run model=card study=") == [s.value for s in CardStudy]
    assert complete(text, "./fedsplit run model=card server") == [f"server_clock={c.value}" for c in ServerClock]
    assert complete(text, "./fedsplit generate-card lay") == ["layers="]
    assert complete(text, "fedsplit run model=card dro") == ["drops="]


def test_cfg_job_shows_what_each_default_stands_for(capsys):
    assert main(["--cfg", "job", "eta.step=0.02"]) == EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith("model: fedsllm\n") and "model_name" not in text
    assert f"data: {DEFAULT_WORKBOOK}\n" in text
    assert "  low: null  # step\n" in text and "  high: null  # 1 - step\n" in text
    assert "users: null  # the workbook's number of users" in text
    assert main(["--cfg", "job", "model=card"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "w: null  # the workbook's w" in text and f"data: {DEFAULT_CARD_WORKBOOK}\n" in text


# --- CARD: cross-checks off, SCIP's progress -------------------------------------------------------

def test_crosscheck_rounds_zero_turns_the_crosschecks_off(tmp_path, capsys):
    out = tmp_path / "card"
    assert main(["model=card", "rounds=2", "crosscheck.rounds=0", "progress=false", f"out={out}"]) == EXIT_OK
    assert "cross-checks: OFF (crosscheck.rounds=0)" in capsys.readouterr().out
    assert list(csv.DictReader(open(out / "crosscheck.csv"))) == []
    summary = {row["name"]: row["value"] for row in csv.DictReader(open(out / "summary.csv"))}
    assert summary["crosscheck"] == "OFF (crosscheck.rounds=0)"
    config = (out / "config.yaml").read_text()
    assert config.startswith("model: card\n") and "model_name" not in config


def test_a_scip_solve_shows_its_seconds_and_bounds(monkeypatch):
    monkeypatch.setattr(scip_progress, "TICK_SECONDS", 0.02)
    monkeypatch.setattr(progress_module, "TIMED_LINE_SECONDS", 0.0)
    inputs = load_card()
    pairs = solve_state(inputs, build_profile(inputs), "Normal").pairs[:15]
    stream = io.StringIO()
    shown = Progress(stream)
    with scip_progress.solve_progress(shown, "P1", 600.0) as solver:
        results = solver.solve(build_p1(pairs), time_limit=600.0, load_solutions=False,
                               raise_exception_on_nonoptimal_result=False,
                               solver_options={"numerics/feastol": SCIP_FEASIBILITY_TOLERANCE})
        bounds = solver._bounds
    assert results.termination_condition == TerminationCondition.convergenceCriteriaSatisfied
    # the event handler saw what Pyomo reports at the end
    assert bounds.primal == pytest.approx(results.incumbent_objective, rel=1e-9)
    assert bounds.dual == pytest.approx(results.objective_bound, rel=1e-6)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("P1: done in ")
    ticks = [line for line in lines if line.startswith("P1 [")]
    assert ticks and all("of 10:00 time limit]" in line for line in ticks)


def test_a_scip_log_larger_than_a_pipe_does_not_block_the_run(tmp_path):
    """A device given the server's clock, cores and FLOPs per cycle makes SCIP print more than the 64 KiB pipe
    Pyomo captures it through over the 20 rounds: with the GIL held during the solve nothing drained the pipe
    and the run blocked in write() for ever, deaf to SIGTERM (seen: 5 minutes, then SIGKILL); it now ends."""
    workbook = tmp_path / "fast_device.xlsx"
    shutil.copy(DEFAULT_CARD_WORKBOOK, workbook)
    book = openpyxl.load_workbook(workbook)
    book["devices"]["C2"], book["devices"]["D2"], book["devices"]["E2"] = 2.46e9, 3072, 2  # the server's
    book.save(workbook)
    done = front_end(["model=card", f"data={workbook}", "progress=false", f"out={tmp_path / 'r'}"], tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert (tmp_path / "r" / "crosscheck.csv").is_file()


# --- A near-miss unit ------------------------------------------------------------------------------

def test_a_near_miss_unit_is_named(tmp_path):
    path = tmp_path / "mhz.xlsx"
    shutil.copy(DEFAULT_WORKBOOK, path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["parameters"]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "bandwidth_main_hz")
    sheet.cell(row, 2).value, sheet.cell(row, 3).value = 20, "Mhz"
    workbook.save(path)
    with pytest.raises(InputError) as caught:
        load_fedsllm(path)
    issues = [i for i in caught.value.issues if i.row == row]
    assert len(issues) == 1  # the unit, not also "20 is out of range as Hz"
    assert issues[0].value == "Mhz" and "did you mean 'MHz'?" in issues[0].expected
