"""Every input the schema refuses is named in its own words; hostile workbooks and overrides, drawn by
Hypothesis, never reach a traceback and never leave a report."""

from __future__ import annotations

import datetime
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest

from solvers.app.config import Study
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from data.fedsllm.inputs import DEFAULT_WORKBOOK
from data.schema import CARD_PARAMETERS, FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Kind
from data.errors import EXIT_INPUT
from solvers.app.cli import main

def run_error(capsys, *args) -> tuple[int, str]:
    fast = ["progress=false"] if "model=card" in args else ["problem16=false", "progress=false"]
    code = main([*args, *fast])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def edited(source: Path, target: Path, change) -> Path:
    workbook = openpyxl.load_workbook(source)
    change(workbook)
    workbook.save(target)
    return target


def set_cell(sheet: str, column: str, value, row: int = 2):
    def change(workbook):
        header = [cell.value for cell in workbook[sheet][1]]
        workbook[sheet].cell(row, header.index(column) + 1).value = value
    return change


def set_parameter(name: str, value):
    def change(workbook):
        sheet = workbook["parameters"]
        row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == name)
        sheet.cell(row, 2).value = value
    return change


# --- Files: each problem in its own words --------------------------------------------------

def test_file_problems_each_have_their_own_words(tmp_path, capsys):
    (tmp_path / "folder.xlsx").mkdir()
    (tmp_path / "old.xls").write_bytes(DEFAULT_WORKBOOK.read_bytes())
    (tmp_path / "table.csv").write_text("user,samples\n1,2\n")
    (tmp_path / "damaged.xlsx").write_bytes(b"this is not a zip file")
    # An encrypted .xlsx is an OLE compound file (as is an old .xls): its first 8 bytes say so.
    (tmp_path / "locked.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    expected = {
        "missing.xlsx": "found no such file",
        "folder.xlsx": "found a folder",
        "old.xls": "the old .xls format",
        "table.csv": "a CSV file",
        "damaged.xlsx": "not an .xlsx workbook (it is not a zip container)",
        "locked.xlsx": "password-protected (encrypted)",
    }
    for name, words in expected.items():
        code, error = run_error(capsys, f"data={tmp_path / name}", f"out={tmp_path / 'out'}")
        assert code == EXIT_INPUT and words in error, (name, error)
        assert "empty cell" not in error and "BadZipFile" not in error
    assert not (tmp_path / "out").exists()


def raw_number_workbook(target: Path, token: str) -> Path:
    """The shipped workbook with one numeric cell holding `token` (NaN, INF), which only other programs write."""
    with zipfile.ZipFile(DEFAULT_WORKBOOK) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":  # users
                text = data.decode()
                start = text.index('<c r="F3"')
                value_start = text.index("<v>", start) + 3
                data = (text[:value_start] + token + text[text.index("</v>", value_start):]).encode()
            copy.writestr(item, data)
    return target


@pytest.mark.parametrize("token", ["NaN", "INF", "-inf"])
def test_raw_nan_and_inf_cells_are_named(tmp_path, capsys, token):
    workbook = raw_number_workbook(tmp_path / "raw.xlsx", token)
    code, error = run_error(capsys, f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "sheet 'users', row 3, column 'samples' (F): found a cell that cannot be read" in error
    assert "NaN or INF" in error


def test_missing_header_parameter_and_formula_each_have_their_own_words(tmp_path, capsys):
    def change(workbook):
        workbook["users"]["B1"] = None  # the distance_m header
        sheet = workbook["parameters"]
        sheet.delete_rows(next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "gamma"))
        workbook["users"]["F4"] = "=2*600"
    workbook = edited(DEFAULT_WORKBOOK, tmp_path / "in.xlsx", change)
    code, error = run_error(capsys, f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "column 'distance_m': found no column headed 'distance_m'" in error
    assert "found no row named 'gamma'" in error
    assert "row 4, column 'samples' (F): found the formula '=2*600' with no saved result" in error
    assert "empty cell" not in error


def test_long_values_are_cut_and_dates_shown_as_dates(tmp_path, capsys):
    def change(workbook):
        set_cell("users", "samples", "x" * 32_000)(workbook)
        set_cell("users", "samples", datetime.datetime(2024, 1, 2), row=3)(workbook)
    workbook = edited(DEFAULT_WORKBOOK, tmp_path / "in.xlsx", change)
    code, error = run_error(capsys, f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "(32,000 characters)" in error and len(error) < 2_000
    assert "found the date/time 2024-01-02;" in error and "datetime.datetime" not in error


def test_every_problem_of_a_card_workbook_is_listed(tmp_path, capsys):
    def change(workbook):
        set_parameter("w", 1.5)(workbook)
        set_parameter("rounds", 0)(workbook)
        set_cell("devices", "distance_m", -3)(workbook)  # a bad cell in the sheet of the speed rule
        set_cell("devices", "clock_hz", 20e9, row=6)(workbook)  # and a device faster than the server
        set_cell("llm", "vocab_size", "big")(workbook)  # a bad cell in the sheet of the divisor rule
        set_cell("llm", "kv_heads", 5)(workbook)  # and kv_heads not dividing the heads
        set_cell("cqi", "modulation", None, row=3)(workbook)  # a bad cell in the sheet of the order rule
        set_cell("cqi", "snr_threshold_db", -9.0, row=5)(workbook)  # and a threshold out of order
    workbook = edited(DEFAULT_CARD_WORKBOOK, tmp_path / "card.xlsx", change)
    code, error = run_error(capsys, "model=card", f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "8 problems in the input" in error
    for where in ("'w'", "'rounds'", "row 2, column 'distance_m'", "row 6, column 'clock_hz'",
                  "column 'vocab_size'", "column 'kv_heads'", "row 3, column 'modulation'",
                  "row 5, column 'snr_threshold_db'"):
        assert where in error, where


# --- Values inside old ranges that crashed: the schema says what the model supports ------

@pytest.mark.parametrize("change,words", [
    (set_cell("users", "gain_main_db", -300.0), "expected a finite number >= -250 and < 0 (dB)"),
    (set_cell("users", "gain_main_db", -200.0), "SNR to the main server is -89.0 dB; the model supports SNRs "
                                                "from -70 dB"),
    (set_parameter("noise_psd_dbm_per_hz", 0.0), "expected a finite number >= -200 and <= -100 (dBm/Hz)"),
    (set_parameter("bandwidth_main_hz", 1e-300), "expected a finite number >= 1000 and <= 1e+11 (Hz)"),
    (set_parameter("bandwidth_fed_hz", 1e300), "expected a finite number >= 1000 and <= 1e+11 (Hz)"),
    (set_parameter("eta_step", 1e-7), "expected a finite number >= 0.0001 and <= 0.5"),
])
def test_fedsllm_values_the_model_cannot_take_are_refused_with_the_reason(tmp_path, capsys, change, words):
    workbook = edited(DEFAULT_WORKBOOK, tmp_path / "in.xlsx", change)
    code, error = run_error(capsys, f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT and words in error, error


@pytest.mark.parametrize("change,words", [
    (set_cell("llm", "hidden_size", 1e300), "expected a whole number >= 1 and <= 1e+06"),
    (set_cell("llm", "layers", 1_000_000), "expected a whole number >= 1 and <= 200"),
    (set_parameter("rounds", 10_000_000), "expected a whole number >= 1 and <= 1000"),
])
def test_card_sizes_the_model_cannot_take_are_refused(tmp_path, capsys, change, words):
    workbook = edited(DEFAULT_CARD_WORKBOOK, tmp_path / "card.xlsx", change)
    code, error = run_error(capsys, "model=card", f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT and words in error, error


# --- Property: malformed workbooks and overrides, every planted problem named -----------------

NUMERIC_PARAMETERS = [f for f in FEDSLLM_PARAMETERS if f.kind not in (Kind.ID, Kind.TEXT)]
NUMERIC_USER_COLUMNS = [f for f in FEDSLLM_USER_COLUMNS if f.kind is not Kind.ID]
CARD_NUMERIC_PARAMETERS = [f for f in CARD_PARAMETERS if f.kind in (Kind.REAL, Kind.INTEGER)]


def bad_values(field) -> st.SearchStrategy:
    """Values `field` refuses: text, an empty cell, a date, a formula, or a number past its range."""
    printable = st.characters(blacklist_categories=("Cc", "Cs"))  # XML (so openpyxl) cannot hold control characters
    choices = [st.text(printable, min_size=1, max_size=40).filter(lambda t: t.strip() and not _is_number(t)),
               st.just(None), st.just(datetime.datetime(2020, 5, 17)), st.just("=1+1"), st.just(True)]
    if field.high is not None:
        choices.append(st.floats(min_value=field.high * 10 + 1e-300 if field.high > 0 else field.high + 1,
                                 max_value=1e300, allow_nan=False).filter(lambda v: v > field.high))
    if field.low is not None:
        # past the bound by more than a workbook's 15 significant digits keep (a value a hair below it is saved as it)
        choices.append(st.floats(min_value=-1e300, max_value=field.low - max(1.0, abs(field.low)) * 1e-9,
                                 allow_nan=False))
    return st.one_of(choices)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@st.composite
def planted_problems(draw):
    """1-3 bad cells of a FedsLLM workbook: (sheet, parameter name or (column, row), value)."""
    plants = {}
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            field = draw(st.sampled_from(NUMERIC_PARAMETERS))
            plants[("parameters", field.name)] = draw(bad_values(field))
        else:
            field = draw(st.sampled_from(NUMERIC_USER_COLUMNS))
            row = draw(st.integers(2, 6))
            plants[("users", (field.name, row))] = draw(bad_values(field))
    return plants


BAD_OVERRIDES = {
    "eta.step=2": "eta.step=2.0: expected",
    "solver.tol=-1": "solver.tol=-1.0: expected",
    "etastep=0.1": "has no key 'etastep'",
    "baseline_eta=0": "baseline_eta=0.0: expected",
    "study=fast": f"study=fast: expected one of {', '.join(s.value for s in Study)}",
    "power_sweep.powers_dbm=[61]": "power_sweep.powers_dbm=[61]: only study=power_sweep reads this key",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plants=planted_problems(), override=st.sampled_from([None, *BAD_OVERRIDES]))
def test_malformed_workbooks_and_overrides_are_named_and_write_nothing(capsys, plants, override):
    with tempfile.TemporaryDirectory() as folder:
        def change(workbook):
            for (sheet, where), value in plants.items():
                if sheet == "parameters":
                    set_parameter(where, value)(workbook)
                else:
                    set_cell("users", where[0], value, row=where[1])(workbook)
        workbook = edited(DEFAULT_WORKBOOK, Path(folder) / "in.xlsx", change)
        out = Path(folder) / "out"
        args = [f"data={workbook}", f"out={out}", *([override] if override else [])]
        code, error = run_error(capsys, *args)
        assert code in (0, 2, 3)
        assert code == EXIT_INPUT  # every draw plants at least one problem
        assert not out.exists() and sorted(p.name for p in Path(folder).iterdir()) == ["in.xlsx"]
        if override:  # a bad override hides none of the workbook's problems
            assert BAD_OVERRIDES[override] in error
        for (sheet, where), value in plants.items():
            if sheet == "parameters":
                assert f"of '{where}'" in error, (where, value, error)
            else:
                assert f"sheet 'users', row {where[1]}, column '{where[0]}'" in error, (where, value, error)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([f.name for f in CARD_NUMERIC_PARAMETERS]), data=st.data())
def test_malformed_card_parameters_are_named(capsys, name, data):
    field = next(f for f in CARD_NUMERIC_PARAMETERS if f.name == name)
    value = data.draw(bad_values(field))
    with tempfile.TemporaryDirectory() as folder:
        workbook = edited(DEFAULT_CARD_WORKBOOK, Path(folder) / "card.xlsx", set_parameter(name, value))
        code, error = run_error(capsys, "model=card", f"data={workbook}", f"out={Path(folder) / 'out'}")
        assert code == EXIT_INPUT and f"of '{name}'" in error
        assert not (Path(folder) / "out").exists()


# --- Inputs the schema allows but the scenario cannot use: a clear message, never a crash ---

def test_a_card_scenario_with_every_link_out_of_range_is_named(tmp_path, capsys):
    workbook = edited(DEFAULT_CARD_WORKBOOK, tmp_path / "card.xlsx", set_parameter("ap_tx_dbm", -100.0))
    code, error = run_error(capsys, "model=card", f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "no device-round whose up- and down-link reach CQI 1 in the Normal channel state" in error
    assert not (tmp_path / "out").exists()


def test_cross_checks_of_rounds_with_no_link_in_range_say_none_not_pass():
    from dataclasses import replace

    from data.card.inputs import load_card
    from data.card.profile import build_profile
    from reports.card import crosscheck_verdict
    from solvers.card.crosscheck import crosscheck
    from solvers.card.state import solve_state
    from solvers.runtime.ipopt import IpoptSolver

    inputs = load_card(DEFAULT_CARD_WORKBOOK)
    result = solve_state(inputs, build_profile(inputs), "Normal")
    later = [i for i, pair in enumerate(result.pairs) if pair.round > 1]  # as if round 1 were out of range
    result = replace(result, pairs=[result.pairs[i] for i in later], card=[result.card[i] for i in later])
    checks = crosscheck(result, 1, IpoptSolver())
    assert checks == [] and crosscheck_verdict(checks).startswith("NONE")


def test_a_scenario_that_would_train_for_decades_is_named(tmp_path, capsys):
    def change(workbook):
        sheet = workbook["users"]
        for row in range(2, sheet.max_row + 1):
            set_cell("users", "cycles_per_sample", 5e14, row=row)(workbook)
    workbook = edited(DEFAULT_WORKBOOK, tmp_path / "in.xlsx", change)
    code, error = run_error(capsys, f"data={workbook}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT
    assert "of training at any eta" in error and "the longest training the model plans for" in error


def test_the_delay_bound_is_below_the_optimum():
    """The bound that refuses decades-long scenarios must never refuse a real one: it lies below T*."""
    import numpy as np

    from data.fedsllm.inputs import load_fedsllm, shortest_delay_s
    from tests.conftest import reference_scenario, users_table
    from tests.reference_fedsllm import solve_reference

    users = users_table([-96.0, -118.0, -131.0], samples=[900, 1300, 1100], cycles=[1.2e4, 2.9e4, 2.0e4])
    with tempfile.TemporaryDirectory() as folder:
        from data.fedsllm.generate import write_fedsllm_workbook
        from tests.conftest import SPEC_PARAMETERS
        inputs = load_fedsllm(write_fedsllm_workbook(Path(folder) / "in.xlsx", users, SPEC_PARAMETERS))
    etas = np.array([0.3, 0.6, 0.9])
    for eta in etas:
        bound, _, _ = shortest_delay_s(inputs, np.array([eta]))
        assert bound <= solve_reference(reference_scenario(users), float(eta)).T
