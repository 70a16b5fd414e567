"""Reports people read and reuse: paper figures, Excel formats, pleasant input workbooks."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import matplotlib.image
import numpy as np
import openpyxl
import pytest

from data.card.inputs import DEFAULT_CARD_WORKBOOK, load_card
from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from data.fedsllm.generate import ScenarioSettings, draw_users, write_fedsllm_workbook
from data.issues import InputError
from reports.plots import plot_eta_sweep, plot_fig2, plot_fig3, plot_fig4, plot_pareto
from reports.style import DOUBLE_COLUMN_IN, DPI, FONT_PT, SINGLE_COLUMN_IN
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main


@pytest.fixture(scope="module")
def card_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "card"
    assert main(["model=card", "rounds=2", "progress=false", f"out={out}"]) == EXIT_OK
    return out


# --- Figures -------------------------------------------------------------------------------------

def check_figure(files, width_in: float, labels: list[str]):
    assert files.pdf.exists() and files.pdf.read_bytes().startswith(b"%PDF")
    height_px, width_px = matplotlib.image.imread(files.png).shape[:2]
    assert width_px == round(width_in * DPI) and files.width_in == pytest.approx(width_in)
    assert height_px == round(files.height_in * DPI)
    assert files.smallest_font_pt >= FONT_PT
    for label in labels:
        assert any(label in text for text in files.labels), (label, files.labels)
    assert files.caption


def test_every_figure_is_a_paper_figure(tmp_path):
    etas = np.linspace(0.1, 0.9, 9)
    check_figure(plot_eta_sweep(etas, 100 + (etas - 0.8) ** 2 * 50, 0.8, 100.0, tmp_path / "eta.png", users=5),
                 SINGLE_COLUMN_IN, ["$\\eta$", "(s)"])
    powers = list(range(0, 21, 2))
    fig2 = plot_fig2(powers, {s: [100.0 - p for p in powers] for s in ("Proposed", "EB", "FE", "BA")},
                     tmp_path / "fig2.png", users=50)
    check_figure(fig2, SINGLE_COLUMN_IN, ["(dBm)", "$T$ (s)"])
    pairs = [SimpleNamespace(last_cut=32, device=str(m)) for m in range(3)]
    card = [SimpleNamespace(device=str(m), round=n, cut=32 * (m == 0), clock_ghz=1.0 - 0.2 * m)
            for m in range(3) for n in range(1, 6)]
    check_figure(plot_fig3(SimpleNamespace(card=card, pairs=pairs, state="Normal", out_of_range=[]),
                           tmp_path / "fig3.png", 0.2),
                 DOUBLE_COLUMN_IN, ["round", "cut layer", "(GHz)"])
    bars = {(s, m): (10.0 + i, 500.0 + 10 * i) for i, (s, m) in
            enumerate((s, m) for s in ("Good", "Poor") for m in ("CARD", "server-only", "device-only"))}
    check_figure(plot_fig4(bars, tmp_path / "fig4.png", 0.2), DOUBLE_COLUMN_IN, ["(s)", "(J)", "channel state"])
    points = {"Normal": [(w, 100 * w, (90 * w, 110 * w), 10 / (w + 0.1), (9 / (w + 0.1), 11 / (w + 0.1)))
                         for w in (0.2, 0.5, 0.8)]}
    check_figure(plot_pareto(points, tmp_path / "pareto.png", 10), SINGLE_COLUMN_IN, ["(J)", "(s)"])


def test_fig2_axes_are_linear_within_a_decade_with_integer_dbm_ticks(tmp_path):
    powers = list(range(0, 21, 2))
    axes = plot_fig2(powers, {"Proposed": [50.0 + p for p in powers]}, tmp_path / "fig2.png").figure.axes[0]
    assert axes.get_yscale() == "linear"
    ticks = [t for t in axes.get_xticks() if 0 <= t <= 20]
    assert all(float(t).is_integer() for t in ticks) and set(ticks) <= set(range(0, 21, 2))


def test_reports_list_their_figures_with_a_caption(card_report):
    rows = list(openpyxl.load_workbook(card_report / "card.xlsx")["figures"].values)[1:]
    assert [r[0] for r in rows] == ["fig3", "fig4"]
    assert all("Normal channel" in r[2] or "w = 0.2" in r[2] for r in rows)
    for name in ("fig3", "fig4"):
        assert (card_report / f"{name}.pdf").exists() and (card_report / f"{name}.png").exists()


# --- Excel -------------------------------------------------------------------------------------

def test_excel_formats_widths_filters_colours_and_ids(card_report):
    book = openpyxl.load_workbook(card_report / "card.xlsx")
    summary = book["summary"]
    rows = {summary.cell(r, 1).value: summary.cell(r, 2) for r in range(2, summary.max_row + 1)}
    assert rows["delay_reduction_vs_device_only_Normal"].number_format == "0.00%"
    assert rows["devices"].number_format == "#,##0" and rows["devices"].value == 5
    decisions = book["decisions"]
    header = [c.value for c in decisions[1]]
    assert "server_clock_ghz" in header and "delay_s" in header and "cut" in header  # the name says the unit
    device = decisions.cell(2, header.index("device") + 1)
    assert isinstance(device.value, int)  # the workbook's ids are numbers: no "number stored as text"
    assert decisions.cell(2, header.index("delay_s") + 1).number_format == "#,##0.000"
    assert decisions.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{decisions.max_row}"
    crosscheck = book["crosscheck"]
    verdicts = [row for row in crosscheck.iter_rows(min_row=2) for cell in row if cell.value == "PASS"]
    assert verdicts
    pass_cell = next(cell for row in crosscheck.iter_rows(min_row=2) for cell in row if cell.value == "PASS")
    assert pass_cell.fill.start_color.rgb.endswith("C6EFCE")
    for sheet in book:  # widths fitted to the longest entry, and the header never cut
        for index, cell in enumerate(sheet[1], start=1):
            width = sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width
            assert width >= min(len(str(cell.value)), 60)
    units = (card_report / "units.csv").read_text()
    assert "decisions,server_clock_hz,Hz," in units


# --- Input workbooks ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", [DEFAULT_WORKBOOK, DEFAULT_CARD_WORKBOOK,
                                  DEFAULT_CARD_WORKBOOK.with_name("card_llama32_1b.xlsx")], ids=lambda p: p.name)
def test_shipped_workbooks_are_styled_and_still_valid(path):
    (load_card if "card" in path.name else load_fedsllm)(path)  # the schema still accepts them
    book = openpyxl.load_workbook(path)
    for sheet in book:
        if sheet.title == "about":
            continue
        assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1] if c.value)
        assert all(c.comment is not None for c in sheet[1] if c.value), sheet.title
    checks = [dv for sheet in book for dv in sheet.data_validations.dataValidation]
    assert checks
    if "card" in path.name:
        lists = [dv.formula1 for dv in book["parameters"].data_validations.dataValidation if dv.type == "list"]
        assert '"Good,Normal,Poor"' in lists


def test_generated_workbook_is_styled(tmp_path):
    path = write_fedsllm_workbook(tmp_path / "g.xlsx", draw_users(ScenarioSettings(users=3)))
    sheet = openpyxl.load_workbook(path)["users"]
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2" and "dBm" in sheet["I1"].comment.text
    ranges = {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}
    assert any(dv.type == "decimal" for dv in ranges.values())


def set_parameter(path, name: str, value, unit: str):
    book = openpyxl.load_workbook(path)
    sheet = book["parameters"]
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, 1).value == name:
            sheet.cell(row, 2).value = value
            sheet.cell(row, 3).value = unit
    book.save(path)


def test_clocks_and_bandwidths_in_ghz_and_mhz(tmp_path):
    path = tmp_path / "card.xlsx"
    shutil.copy(DEFAULT_CARD_WORKBOOK, path)
    set_parameter(path, "bandwidth_hz", 20, "MHz")
    assert load_card(path).parameter("bandwidth_hz") == pytest.approx(20e6, rel=1e-15)
    fedsllm = tmp_path / "fedsllm.xlsx"
    shutil.copy(DEFAULT_WORKBOOK, fedsllm)
    set_parameter(fedsllm, "server_cpu_max_hz", 20, "GHz")
    assert load_fedsllm(fedsllm).parameters["server_cpu_max_hz"] == pytest.approx(20e9, rel=1e-15)
    set_parameter(path, "bandwidth_hz", 20, "dB")  # not a frequency: the unit is refused, as before
    with pytest.raises(InputError) as caught:
        load_card(path)
    assert any("'Hz'" in issue.expected for issue in caught.value.issues)


# --- The report writer (reports/xlsx.py) -----------------------------------------------------------

def test_the_writer_keeps_every_promise_read_back_by_openpyxl(tmp_path):
    """Text as text (a formula-like id, a control character), NaN empty, infinity as text, whole numbers
    and decimals with their formats, PASS/FAIL colours, a per-row format in a summary, header comments,
    fitted widths, autofilter, frozen header; the CSV of the same table neutralised."""
    from reports.export import ID, Column, Percent, ResultTable, summary_with_versions, write_csv, write_workbook

    values = np.array([0.5, np.nan, 1234.5678, np.inf])
    table = ResultTable.from_columns("per_user", [Column("user", "-", "user id", ID), Column("delay", "s", "delay"),
                                                  Column("verdict", "-", "PASS or FAIL"), Column("note", "-", "text")],
                                     [["=HYPERLINK(\"x\")", "2", "3", "4"], values, ["PASS", "FAIL", "PASS", "PASS"],
                                      "bell\x07 here"])
    summary = summary_with_versions([("share_of_users", Percent(0.25), "-", "a share"), ("users", 4, "-", "a count")])
    path = tmp_path / "report.xlsx"
    write_workbook(path, [summary, table])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["summary", "per_user"]
    sheet = book["per_user"]
    assert [c.value for c in sheet[1]] == ["user", "delay (s)", "verdict", "note"]
    assert all(c.font.b and c.comment is not None for c in sheet[1]) and sheet["B1"].comment.text == "delay"
    assert (sheet["A2"].value, sheet["A2"].data_type) == ('=HYPERLINK("x")', "s")  # text, never a formula
    assert sheet["A3"].value == 2  # an all-digit id in an id column is a number
    assert sheet["B2"].value == 0.5 and sheet["B3"].value is None and sheet["B5"].value == "inf"
    assert sheet["B4"].value == pytest.approx(1234.5678) and sheet["B4"].number_format == "#,##0.000"
    assert sheet["C2"].fill.start_color.rgb.endswith("C6EFCE") and sheet["C3"].fill.start_color.rgb.endswith("FFC7CE")
    assert sheet["D2"].value == "bell\\x07 here"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D5"
    assert sheet.column_dimensions["B"].width >= len("delay (s)") and sheet.column_dimensions["D"].width >= 14
    summary_sheet = book["summary"]
    rows = {summary_sheet.cell(r, 1).value: summary_sheet.cell(r, 2) for r in range(2, summary_sheet.max_row + 1)}
    assert rows["share_of_users"].number_format == "0.00%" and rows["users"].number_format == "#,##0"
    write_csv(tmp_path / "per_user.csv", table)
    lines = (tmp_path / "per_user.csv").read_text().splitlines()
    assert lines[1].startswith("\"'=HYPERLINK(\"\"x\"\")\",0.5,PASS") and lines[2].startswith("2,,FAIL")


def test_a_sheet_longer_than_excel_holds_keeps_its_first_rows(tmp_path, monkeypatch):
    """Excel holds 1,048,576 rows: a longer table's sheet has the first ones (its CSV all of them); shown
    here with the limit lowered to 5 rows."""
    import reports.xlsx
    from reports.export import ID, Column, ResultTable, write_workbook

    monkeypatch.setattr(reports.xlsx, "SHEET_ROW_LIMIT", 5)
    monkeypatch.setattr(reports.xlsx, "ROWS_PER_BLOCK", 3)  # and rows streamed in blocks of 3
    table = ResultTable.from_columns("long", [Column("index", "-", "row", ID), Column("value", "s", "a value")],
                                     [list(range(1, 11)), np.linspace(0.0, 1.0, 10)])
    write_workbook(tmp_path / "long.xlsx", [table])
    sheet = openpyxl.load_workbook(tmp_path / "long.xlsx")["long"]
    assert sheet.max_row == 5 and sheet.auto_filter.ref == "A1:B5"
    assert [sheet.cell(r, 1).value for r in range(2, 6)] == [1, 2, 3, 4]
