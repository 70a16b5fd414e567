"""Hand-made hostile inputs, one group per class of issue 24's input half: each ends with exit 2 and a located
message (or solves, where the input is valid), never with an internal error, a hang or changed data."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import openpyxl
import pytest

from data.card.inputs import load_card
from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from data.fedsllm.generate import write_fedsllm_workbook
from data.issues import InputError
from solvers.app.cli import main
from data.errors import EXIT_INPUT
from solvers.app.jobs import EXIT_OK
from tests.conftest import SPEC_PARAMETERS, users_table
from tests.hostile import (
    BILLION_LAUGHS,
    CARD_PARTS,
    FEDSLLM_PARTS,
    SOURCES,
    flipped,
    number_cell,
    part_offset,
    rezipped,
    with_cell,
    with_declaration,
    with_dimension,
)

FAST = ["problem16=false", "progress=false", "global_eta.enabled=false"]
CARD_FAST = ["model=card", "progress=false", "rounds=2", "crosscheck.rounds=1"]
USERS = FEDSLLM_PARTS["users"]


def input_error(path: Path, loader=load_fedsllm) -> InputError:
    with pytest.raises(InputError) as caught:
        loader(path)
    return caught.value


def run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def nothing_written(folder: Path, *inputs: str) -> bool:
    return sorted(p.name for p in folder.iterdir()) == sorted(inputs)


def in_time(function, seconds: float = 60.0):
    """`function()`'s result, from a daemon thread, failing (not hanging) if it has not returned in time."""
    outcome = {}

    def call():
        try:
            outcome["result"] = function()
        except BaseException as error:  # handed to the test's thread, which raises it
            outcome["error"] = error
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# --- Class 1: damaged workbooks, numbers, units, ids, output folders, empty ranges: exit 2, located ----------

def test_damaged_parts_and_cells_are_named_where_they_are(tmp_path, capsys):
    shipped = DEFAULT_WORKBOOK.read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(shipped[: len(shipped) // 2])
    (tmp_path / "flip.xlsx").write_bytes(flipped(shipped, part_offset(DEFAULT_WORKBOOK, USERS) + 40, 3))
    half = lambda xml: xml[: len(xml) // 2]  # noqa: E731
    cases = {
        "cut.xlsx": ["found a damaged zip container"],
        "flip.xlsx": ["sheet 'users': found damaged data", f"in its part {USERS}"],
        "halved.xlsx": ["sheet 'users', row", "found a sheet whose XML cannot be read after row"],
        "entities.xlsx": ["sheet 'users': found a document type or entity declaration", "refuses them"],
        "shared.xlsx": ["sheet 'users', row 3, column 'user' (A): found a cell that cannot be read as a value: "
                        "it points at shared text '7', and the workbook has 0"],
        "digits.xlsx": ["sheet 'users', row 3, column 'samples' (F): found a cell that cannot be read as a value: "
                        "the number '1000000000000000000000000000000000000000...' (401 digits)"],
    }
    edits = {"halved.xlsx": {USERS: half}, "entities.xlsx": {USERS: with_declaration(BILLION_LAUGHS)},
             "shared.xlsx": {USERS: with_cell("A3", '<c r="A3" t="s"><v>7</v></c>')},
             "digits.xlsx": {USERS: with_cell("F3", number_cell("F3", "1" + "0" * 400))}}
    for name, edit in edits.items():
        rezipped(DEFAULT_WORKBOOK, tmp_path / name, edit)
    for name, words in cases.items():
        message = str(input_error(tmp_path / name))
        assert all(word in message for word in words), (name, message)
    code, error = run(capsys, f"data={tmp_path / 'entities.xlsx'}", f"out={tmp_path / 'out'}", *FAST)
    assert code == EXIT_INPUT and "Nothing was written" in error
    assert nothing_written(tmp_path, *cases)


def test_unit_cells_the_unit_parser_would_choke_on_are_reported_as_units(broken_copy):
    def change(workbook):
        sheet = workbook["parameters"]
        units = {"bandwidth_main_hz": "Hz/0", "bandwidth_fed_hz": "(Hz", "server_cpu_max_hz": "GHz**9**9**9"}
        for row in range(2, sheet.max_row + 1):
            if sheet.cell(row, 1).value in units:
                sheet.cell(row, 3).value = units[sheet.cell(row, 1).value]
    issues = input_error(broken_copy(change)).issues
    assert [(issue.column, issue.value) for issue in issues] == [
        ("'unit' (C) of 'bandwidth_main_hz'", "Hz/0"), ("'unit' (C) of 'bandwidth_fed_hz'", "(Hz"),
        ("'unit' (C) of 'server_cpu_max_hz'", "GHz**9**9**9")]


IDS = [7, 12, "007", "0007", "１２", "²", "①"]


def test_ids_are_kept_exactly_as_the_workbook_holds_them(tmp_path, capsys):
    users = users_table([-96.0 - 4 * i for i in range(len(IDS))])
    users["user"] = IDS
    workbook = write_fedsllm_workbook(tmp_path / "ids.xlsx", users, {**SPEC_PARAMETERS, "eta_step": 0.25})
    code, _ = run(capsys, f"data={workbook}", f"out={tmp_path / 'report'}", *FAST)
    assert code == EXIT_OK
    sheet = openpyxl.load_workbook(tmp_path / "report" / "fedsllm.xlsx")["allocation"]
    written = [sheet.cell(row, 1).value for row in range(2, 2 + len(IDS))]
    assert written == IDS  # numbers stay numbers, texts stay texts: "007" is not 7, "１２" not 12
    assert [sheet.cell(row, 1).data_type for row in range(2, 2 + len(IDS))] == ["n", "n"] + ["s"] * 5
    with open(tmp_path / "report" / "allocation.csv", newline="", encoding="utf-8") as handle:
        assert [row["user"] for row in csv.DictReader(handle)] == [str(i) for i in IDS]


def test_a_device_id_with_dollar_signs_is_drawn_as_text(tmp_path, capsys, broken_copy):
    ids = ["$x^$", "$\\frac{$", "²", "007", 7]

    def change(workbook):
        for row, device in enumerate(ids, start=2):
            workbook["devices"].cell(row, 1).value = device
    workbook = broken_copy(change, SOURCES["card"])
    code, _ = run(capsys, *CARD_FAST, f"data={workbook}", f"out={tmp_path / 'report'}")
    assert code == EXIT_OK and (tmp_path / "report" / "fig3.png").stat().st_size > 0
    decisions = openpyxl.load_workbook(tmp_path / "report" / "card.xlsx")["decisions"]
    assert {decisions.cell(row, 1).value for row in range(2, 12)} == set(ids)


def test_output_folders_that_cannot_be_made_are_refused_before_any_work(tmp_path, capsys):
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    outs = {
        "a" * (name_max + 1): "bytes long",  # the folder's own name
        "b" * (name_max - 10): "made beside it while the report is built",  # only the partial folder's
        f"{'c' * (name_max + 1)}/report": f"is {name_max + 1} bytes long and this file system allows {name_max}",
    }
    for out, words in outs.items():
        code, error = run(capsys, f"out={tmp_path / out}", *FAST)
        assert code == EXIT_INPUT and words in error, (out[:20], error)
    if Path("/proc/self").is_dir():
        code, error = run(capsys, "out=/proc/fedsplit-report", *FAST)
        assert code == EXIT_INPUT and "no folder can be made in /proc" in error
    assert nothing_written(tmp_path)


def flat_card_workbook(broken_copy) -> Path:
    """Every device exactly as fast as the server and layers whose transfers do not depend on the cut: every
    device-round has one delay at every cut and clock (D_max = D_min)."""
    def change(workbook):
        for row in range(2, 7):
            for column, value in ((3, 2_460_000_000), (4, 3072), (5, 2)):  # the server's clock, cores, FLOP/cycle
                workbook["devices"].cell(row, column).value = value
        layers = workbook.create_sheet("layers")
        layers.append(["layer", "forward_flops", "output_bits", "adapter_bits"])
        for layer in range(34):
            layers.append([layer, 1e12, 1e6, 0])
    return broken_copy(change, SOURCES["card"])


def test_a_card_scenario_with_an_empty_delay_range_is_refused_at_its_devices(tmp_path, capsys, broken_copy):
    code, error = run(capsys, *CARD_FAST, f"data={flat_card_workbook(broken_copy)}", f"out={tmp_path / 'out'}")
    assert code == EXIT_INPUT and "5 problems in the input" in error
    for row, device in zip(range(2, 7), range(1, 6)):
        assert f"sheet 'devices', row {row}, column 'clock_hz' (C): found device {device}: in round 1" in error
    assert "D_max - D_min = 0 s" in error and not (tmp_path / "out").exists()


# --- Class 2: what used to hang ----------------------------------------------------------------------------

def test_a_fifo_or_a_device_named_xlsx_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.xlsx")
    (tmp_path / "null.xlsx").symlink_to(os.devnull)
    assert "found a FIFO (named pipe)" in str(in_time(lambda: input_error(tmp_path / "pipe.xlsx")))
    assert "found a character device" in str(input_error(tmp_path / "null.xlsx"))


def test_a_sheet_declaring_the_whole_grid_reads_as_the_cells_it_holds(tmp_path):
    whole_grid = with_dimension("A1:XFD1048576")
    workbook = rezipped(DEFAULT_WORKBOOK, tmp_path / "grid.xlsx", {part: whole_grid for part in FEDSLLM_PARTS.values()})
    damaged, shipped = in_time(lambda: load_fedsllm(workbook)), load_fedsllm(DEFAULT_WORKBOOK)
    assert damaged.user_ids == shipped.user_ids and damaged.parameters == shipped.parameters


def card_with_devices(broken_copy, rows: list[list[object]]):
    def change(workbook):
        sheet = workbook["devices"]
        sheet.delete_rows(2, sheet.max_row)
        for values in rows:
            sheet.append(values)
    return broken_copy(change, SOURCES["card"])


SERVER_SPEED = ["server-speed", "as fast as the server", 2_460_000_000, 3072, 2, 12.0]


@pytest.mark.parametrize("devices", [
    [SERVER_SPEED, [2, "Jetson Nano", 500_000_000, 512, 2, 11.2]],  # F_min = F_max
    [[m, "Jetson AGX Orin", 1_300_000_000, 2048, 2, 15.2] for m in range(1, 6)],  # identical devices
    [[1, "Jetson Nano", 500_000_000, 512, 2, 11.2]],  # one device
], ids=["as-fast-as-the-server", "identical", "one-device"])
def test_degenerate_card_scenarios_are_solved(tmp_path, capsys, broken_copy, devices):
    code, error = run(capsys, *CARD_FAST, f"data={card_with_devices(broken_copy, devices)}",
                      f"out={tmp_path / 'report'}")
    assert code == EXIT_OK, error
    with open(tmp_path / "report" / "decisions.csv", newline="") as handle:
        decisions = list(csv.DictReader(handle))
    assert {row["device"] for row in decisions} == {str(device[0]) for device in devices}
    for row in decisions:  # F_min = F_max leaves the server a single clock: the server's own 2.46 GHz
        if row["device"] == "server-speed":
            assert float(row["server_clock_hz"]) == pytest.approx(2.46e9, rel=1e-12)


def test_more_dask_workers_than_the_machine_holds_are_refused(capsys):
    code, error = run(capsys, "study=monte_carlo", "dask.workers=1000", "--cfg", "job")
    cores = len(os.sched_getaffinity(0))
    assert code == EXIT_INPUT and f"dask.workers=1000: expected a whole number from 1 to" in error
    assert f"on this machine ({cores} cores" in error


def test_a_run_estimated_beyond_max_hours_is_refused_up_front(tmp_path, capsys):
    # (9999 grid points + 10) x (0.01 + 0.0012 x 50 users) s = 0.19 h of Ipopt solves
    code, error = run(capsys, "eta.step=0.0001", "solver.engine=ipopt", "solver.max_hours=0.05",
                      f"out={tmp_path / 'a'}", *FAST)
    assert code == EXIT_INPUT and "9999 eta grid points with 50 users: this run would take about 0.195 h" in error
    # 100 device-rounds x (0.04 + 8) s of MindtPy = 0.22 h
    code, error = run(capsys, "model=card", "crosscheck.minlp=mindtpy", "solver.max_hours=0.1",
                      f"out={tmp_path / 'b'}", "progress=false")
    assert code == EXIT_INPUT and "the cross-checks of 100 device-rounds by mindtpy" in error
    assert "more than solver.max_hours=0.1" in error and nothing_written(tmp_path)


# --- Class 4: range errors, not solver failures ---------------------------------------------------------

@pytest.mark.parametrize("value,shown", [("inf", "inf"), ("nan", "nan"), ("-1", "-1.0"), ("0", "0.0")])
def test_solver_tolerance_must_be_a_number_in_range(capsys, value, shown):
    code, error = run(capsys, f"solver.tol={value}", "--cfg", "job")
    assert code == EXIT_INPUT and f"solver.tol={shown}: expected a finite number > 0 and < 1" in error


@pytest.mark.parametrize("samples,rule", [(1e12, "of training at any eta"), (1e10, "times as long as the median user")])
def test_the_user_that_makes_a_scenario_hopeless_is_named_with_its_cell(broken_copy, samples, rule):
    def change(workbook):
        workbook["users"]["F3"] = samples
    (issue,) = input_error(broken_copy(change)).issues
    assert (issue.sheet, issue.row, issue.column) == ("users", 3, "'samples' (F)")
    assert rule in str(issue) and f"user 2 is the slowest, by its samples of {samples:g}" in str(issue)


# --- Class 5: every unreadable cell of every sheet, with its column -----------------------------------------

def test_every_unreadable_cell_of_every_sheet_is_listed_with_its_column(tmp_path):
    users = [with_cell("F3", number_cell("F3", "NaN")), with_cell("B4", '<c r="B4" t="d"><v>2024-13-45</v></c>'),
             with_cell("H5", number_cell("H5", "9" * 500))]
    edits = {FEDSLLM_PARTS["parameters"]: with_cell("B9", number_cell("B9", "INF")),
             USERS: lambda xml: users[2](users[1](users[0](xml)))}
    issues = input_error(rezipped(DEFAULT_WORKBOOK, tmp_path / "cells.xlsx", edits)).issues
    found = {(issue.sheet, issue.row, issue.column): str(issue.value) for issue in issues}
    assert set(found) == {("parameters", 9, "'value' (B) of 'bandwidth_main_hz'"), ("users", 3, "'samples' (F)"),
                          ("users", 4, "'distance_m' (B)"), ("users", 5, "'cpu_max_hz' (H)")}
    assert "the number 'INF'" in found["parameters", 9, "'value' (B) of 'bandwidth_main_hz'"]
    assert "the date '2024-13-45'" in found["users", 4, "'distance_m' (B)"]
    assert "(500 digits)" in found["users", 5, "'cpu_max_hz' (H)"]


def test_unreadable_cells_of_a_card_workbook_are_listed_sheet_by_sheet(tmp_path):
    edits = {CARD_PARTS["server"]: with_cell("B2", number_cell("B2", "-INF")),
             CARD_PARTS["devices"]: with_cell("C4", number_cell("C4", "nan")),
             CARD_PARTS["cqi"]: with_cell("D3", '<c r="D3" t="s"><v>-1</v></c>')}
    issues = input_error(rezipped(SOURCES["card"], tmp_path / "card.xlsx", edits), load_card).issues
    assert [(issue.sheet, issue.row, issue.column) for issue in issues] == [
        ("server", 2, "'cores' (B)"), ("devices", 4, "'clock_hz' (C)"), ("cqi", 3, "'efficiency' (D)")]
