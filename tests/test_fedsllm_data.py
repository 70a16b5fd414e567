"""Loading the FedsLLM workbook, the scenario generator, and every validation rule."""

from __future__ import annotations

import math

import numpy as np
import openpyxl
import pytest

from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from data.fedsllm.generate import ScenarioSettings, draw_users, sample_total
from data.issues import InputError
from tests.conftest import SPEC_PARAMETERS

USER_COLUMNS = ["user", "distance_m", "shadowing_db", "gain_main_db", "gain_fed_db", "samples",
                "cycles_per_sample", "cpu_max_hz", "power_main_max_dbm", "power_fed_max_dbm"]


def parameter_row(workbook, name: str) -> int:
    """Excel row of parameter `name` in the parameters sheet."""
    for row in range(2, workbook["parameters"].max_row + 1):
        if workbook["parameters"].cell(row, 1).value == name:
            return row
    raise KeyError(name)


def users_column(workbook, name: str) -> int:
    header = [cell.value for cell in workbook["users"][1]]
    return header.index(name) + 1


def load_issues(path):
    with pytest.raises(InputError) as caught:
        load_fedsllm(path)
    return caught.value.issues


# --- the shipped workbook ----------------------------------------------------

def test_default_workbook_has_the_spec_parameters():
    inputs = load_fedsllm()
    assert inputs.parameters == pytest.approx(SPEC_PARAMETERS, rel=0, abs=0)


def test_default_workbook_matches_the_paper_setup():
    inputs = load_fedsllm()
    assert inputs.user_count == 50
    assert inputs.user_ids == tuple(str(k) for k in range(1, 51))
    assert inputs.column("samples").sum() == 60021  # BlogFeedback, every sample drawn once
    assert np.all((inputs.column("cycles_per_sample") >= 1e4) & (inputs.column("cycles_per_sample") <= 3e4))
    assert np.all(inputs.column("cpu_max_hz") == 2e9)
    assert np.all(inputs.column("power_main_max_dbm") == 10) and np.all(inputs.column("power_fed_max_dbm") == 10)
    # Inside the 500 m square centred on the station: at most its half-diagonal away.
    assert np.all(inputs.column("distance_m") <= 250 * math.sqrt(2))
    np.testing.assert_array_equal(inputs.column("gain_main_db"), inputs.column("gain_fed_db"))


def test_default_workbook_values_are_read_exactly():
    """Every cell of the users sheet, read by openpyxl directly, equals what the loader hands out."""
    inputs = load_fedsllm()
    sheet = openpyxl.load_workbook(DEFAULT_WORKBOOK)["users"]
    for row_index, row in enumerate(sheet.iter_rows(min_row=2, values_only=True)):
        for name, value in zip(USER_COLUMNS[1:], row[1:]):
            assert inputs.column(name)[row_index] == value


def test_gains_follow_the_path_loss_model():
    """gain = -(128.1 + 37.6 log10(d/km) + shadowing), recomputed from the recorded distance and shadowing."""
    inputs = load_fedsllm()
    expected = -(128.1 + 37.6 * np.log10(inputs.column("distance_m") / 1000) + inputs.column("shadowing_db"))
    np.testing.assert_allclose(inputs.column("gain_main_db"), expected, rtol=1e-12)


def test_default_workbook_is_reproducible_from_its_seed():
    inputs = load_fedsllm()
    redrawn = draw_users(ScenarioSettings(users=50, seed=1))
    for name in USER_COLUMNS[1:]:
        # Excel keeps about 16 significant digits.
        np.testing.assert_allclose(redrawn[name], inputs.column(name), rtol=1e-14)


def test_generator_statistics():
    settings = ScenarioSettings(users=400, seed=7)
    users = draw_users(settings)
    assert users["samples"].sum() == sample_total(settings)
    assert abs(np.mean(users["shadowing_db"])) < 1.5 and 7 < np.std(users["shadowing_db"]) < 9
    assert users["distance_m"].min() >= settings.min_distance_m
    assert not np.array_equal(users["distance_m"], draw_users(ScenarioSettings(users=400, seed=8))["distance_m"])


def test_generator_scales_the_samples_with_many_users():
    """Above the paper's 50 users the 60,021 samples scale with K, so every one of 20,000 users draws some."""
    users = draw_users(ScenarioSettings(users=20_000, seed=3))
    assert users["samples"].sum() == round(60021 * 20_000 / 50) and users["samples"].min() >= 1
    assert draw_users(ScenarioSettings(users=50, seed=1))["samples"].sum() == 60021


# --- every validation rule, with the exact place it names ----------------------

def set_parameter(name, value):
    def change(workbook):
        workbook["parameters"].cell(parameter_row(workbook, name), 2).value = value
    return change


def set_user_cell(excel_row, column, value):
    def change(workbook):
        workbook["users"].cell(excel_row, users_column(workbook, column)).value = value
    return change


def expect_one(issues, sheet, row, column_fragment, expected_fragment):
    matches = [i for i in issues if i.sheet == sheet and i.row == row and column_fragment in (i.column or "")
               and expected_fragment in i.expected]
    assert matches, f"no issue at {sheet} row {row} {column_fragment} ({expected_fragment}) among:\n" + "\n".join(
        map(str, issues))
    return matches[0]


@pytest.mark.parametrize("column,value,expected", [
    ("samples", "abc", "whole number >= 1"),
    ("samples", None, "whole number >= 1"),
    ("samples", 0, "whole number >= 1"),
    ("samples", 12.5, "whole number"),
    ("cycles_per_sample", -5.0, ">= 1 and <= 1e+15"),
    ("cpu_max_hz", 0, ">= 1000"),
    ("gain_main_db", 100.0, "< 0"),
    ("power_fed_max_dbm", "10 dBm", "finite number"),
])
def test_bad_user_cell_is_named(broken_copy, column, value, expected):
    path = broken_copy(set_user_cell(7, column, value))
    issue = expect_one(load_issues(path), "users", 7, f"'{column}'", expected)
    assert issue.value == value and issue.file == str(path)


@pytest.mark.parametrize("name,value,expected", [
    ("bandwidth_main_hz", 0, ">= 1000 and <= 1e+11"),
    ("server_cpu_max_hz", -1e9, ">= 1000"),
    ("eps0", 1.5, "< 1"),
    ("client_share_max", 1.5, "<= 1"),
    ("client_share_min", -0.1, ">= 0"),
    ("L", "three", "finite number"),
    ("eta_step", None, "finite number"),
    ("xi", 0.95, "xi <= gamma/L"),
    ("delta", 0.7, "delta < 2/L"),
    ("client_share_min", 0.95, "client_share_min <= client_share_max"),
    ("gamma", 4.0, "gamma <= L"),
])
def test_bad_parameter_is_named(broken_copy, name, value, expected):
    path = broken_copy(set_parameter(name, value))
    issues = load_issues(path)
    row = parameter_row(openpyxl.load_workbook(path), name)
    expect_one(issues, "parameters", row, f"of '{name}'", expected)


def test_nan_and_infinity_are_rejected(broken_copy):
    """Excel cannot store NaN/inf as numbers; they arrive as text or error values."""
    path = broken_copy(lambda wb: (set_parameter("L", "nan")(wb), set_user_cell(3, "samples", "#DIV/0!")(wb),
                                   set_user_cell(4, "cpu_max_hz", "inf")(wb)))
    issues = load_issues(path)
    expect_one(issues, "parameters", parameter_row(openpyxl.load_workbook(path), "L"), "of 'L'", "finite number")
    expect_one(issues, "users", 3, "'samples'", "whole number")
    expect_one(issues, "users", 4, "'cpu_max_hz'", "finite number")


def test_non_finite_numbers_fail_the_field_check():
    from data.schema import FEDSLLM_PARAMETERS

    field = next(f for f in FEDSLLM_PARAMETERS if f.name == "L")
    assert field.problem(float("nan")) and field.problem(float("inf")) and field.problem(-float("inf"))
    assert field.problem(3.0) is None


def test_duplicate_user_ids(broken_copy):
    path = broken_copy(set_user_cell(9, "user", 3))
    issue = expect_one(load_issues(path), "users", 9, "'user'", "unique user id")
    assert "row 4" in issue.expected  # user 3 is first given in row 4


def test_unknown_and_duplicate_parameter_names(broken_copy):
    def change(workbook):
        sheet = workbook["parameters"]
        sheet.append(["bandwith_main_hz", 1e6, "Hz", "typo"])
        sheet.append(["xi", 0.1, "-", "again"])
    path = broken_copy(change)
    issues = load_issues(path)
    last = openpyxl.load_workbook(path)["parameters"].max_row
    expect_one(issues, "parameters", last - 1, "'name'", "one of the known parameters")
    expect_one(issues, "parameters", last, "'name'", "each parameter once")


def test_missing_parameter_row(broken_copy):
    path = broken_copy(lambda wb: wb["parameters"].delete_rows(parameter_row(wb, "delta")))
    issues = load_issues(path)
    assert any(i.sheet == "parameters" and "'delta'" in i.expected for i in issues)


def test_unit_cell_must_match_the_schema(broken_copy):
    # A unit of another kind (MHz, GHz would be converted: tests/test_reports.py)
    def change(workbook):
        workbook["parameters"].cell(parameter_row(workbook, "bandwidth_fed_hz"), 3).value = "dB"
    path = broken_copy(change)
    row = parameter_row(openpyxl.load_workbook(path), "bandwidth_fed_hz")
    expect_one(load_issues(path), "parameters", row, "'unit'", "'Hz'")


def test_missing_sheet_and_column(broken_copy):
    def change(workbook):
        del workbook["parameters"]
        workbook["users"].delete_cols(users_column(workbook, "samples"))
    issues = load_issues(broken_copy(change))
    assert any(i.sheet == "parameters" and i.row is None and "sheet named 'parameters'" in i.expected for i in issues)
    expect_one(issues, "users", 1, "'samples'", "header cell 'samples'")


def test_every_problem_is_reported_at_once(broken_copy):
    def change(workbook):
        set_parameter("xi", 5.0)(workbook)
        set_parameter("bandwidth_fed_hz", -1)(workbook)
        set_user_cell(2, "samples", "many")(workbook)
        set_user_cell(30, "cpu_max_hz", None)(workbook)
        set_user_cell(51, "user", 1)(workbook)
    issues = load_issues(broken_copy(change))
    assert len(issues) == 5
    assert {i.sheet for i in issues} == {"parameters", "users"}


def test_unreadable_files(tmp_path):
    missing = load_issues(tmp_path / "nope.xlsx")
    assert len(missing) == 1 and "existing .xlsx" in missing[0].expected
    not_excel = tmp_path / "text.xlsx"
    not_excel.write_text("name,value\n")
    assert "Excel" in load_issues(not_excel)[0].expected


def test_error_message_names_file_sheet_row_column_value(broken_copy):
    path = broken_copy(set_user_cell(5, "samples", "abc"))
    with pytest.raises(InputError) as caught:
        load_fedsllm(path)
    assert f"{path}, sheet 'users', row 5, column 'samples' (F): found 'abc'; expected a whole number >= 1" in str(
        caught.value)


def test_repeated_header_is_reported(broken_copy):
    """A second 'samples' column: which one is meant is unclear, so it is named, not silently dropped."""
    def change(workbook):
        sheet = workbook["users"]
        column = sheet.max_column + 1
        sheet.cell(1, column).value = "samples"
        for row in range(2, sheet.max_row + 1):
            sheet.cell(row, column).value = 7
    path = broken_copy(change)
    letter = openpyxl.utils.get_column_letter(openpyxl.load_workbook(path)["users"].max_column)
    issue = expect_one(load_issues(path), "users", 1, f"'samples' ({letter})", "each header once")
    assert "also in column F" in issue.expected
