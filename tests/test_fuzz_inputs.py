"""Hostile inputs drawn by Hypothesis, with a fixed seed and a bounded budget (this file runs in about a minute):
workbooks damaged at the zip level (truncation, bit flips) and at the XML level (cut sheets, entity
declarations, out-of-range shared-string indices, huge dimensions, cell types and references that lie),
extreme numbers, unit texts, Unicode ids and extreme overrides.

Most examples call the loader (or `main` with --cfg job) in-process: each must end in inputs or an InputError
naming the file, never in another exception. A handful run the command line: exit 0, 2 (or 3 where a
solver genuinely fails), no traceback, no crash file, nothing written on exit 2 and no process left.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.card.inputs import load_card
from data.fedsllm.inputs import load_fedsllm
from data.fedsllm.generate import write_fedsllm_workbook
from data.issues import InputError
from reports.export import ID, Column, ResultTable, write_workbook
from reports.style import literal_text, new_figure, paper_style
from solvers.app.cli import main
from data.errors import EXIT_INPUT, EXIT_SOLVE
from solvers.app.jobs import EXIT_OK
from tests.conftest import SPEC_PARAMETERS, users_table
from tests.hostile import BILLION_LAUGHS, CARD_PARTS, FEDSLLM_PARTS, SOURCES

ROOT = Path(__file__).resolve().parents[1]
LOADERS = {"fedsllm": load_fedsllm, "card": load_card}
SHEETS = {"fedsllm": FEDSLLM_PARTS, "card": CARD_PARTS}
SHIPPED = {model: path.read_bytes() for model, path in SOURCES.items()}
PARTS = {model: {item.filename: archive.read(item.filename) for item in archive.infolist()}
         for model, archive in ((m, zipfile.ZipFile(io.BytesIO(data))) for m, data in SHIPPED.items())}
FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])
NUMBER_ID = re.compile(r"0|[1-9][0-9]{0,14}")  # the one form of text that the report writes as a number


def loads_or_names_its_problem(data: bytes, model: str):
    """The model's loader on these bytes: its inputs, or the InputError it raises (each issue naming the file);
    any other exception fails the example."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.xlsx"
        path.write_bytes(data)
        try:
            return LOADERS[model](path)
        except InputError as error:
            assert error.issues and all(issue.file == str(path) and str(issue) for issue in error.issues)
            return error


def packed(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- What is drawn --------------------------------------------------------------------------------------

EXTREME_NUMBER_TEXTS = st.one_of(
    st.sampled_from(["NaN", "nan", "INF", "-inf", "Infinity", "1e999", "-1e999", "1e-400", "0x10", "1,5", "",
                     " ", "1_000", "+-1", "1e", "--1", "٣", "１２", "²"]),
    st.integers(-10**600, 10**600).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(300, 6000).map(lambda digits: "9" * digits),
)
CELL_TYPES = st.sampled_from(["n", "s", "d", "b", "e", "str", "inlineStr", "bogus"])
REFERENCES = st.one_of(st.sampled_from(["ZZZZ1", "A0", "A99999999999", "-1", "", "1A", "XFD1048577", "A1:B2"]),
                       st.text(st.characters(min_codepoint=48, max_codepoint=90), max_size=8))
DECLARATIONS = st.sampled_from([BILLION_LAUGHS, b"<!DOCTYPE x>", b'<!DOCTYPE x SYSTEM "file:///etc/passwd">',
                                b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://example.invalid/">]>'])
DIMENSIONS = st.sampled_from(["A1:XFD1048576", "A1:ZZZZ99999999", "XFD1048576", "", "A0:A0", "B2:A1"])
# What XML can hold, in the scripts the figures' font has glyphs for.
XML_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), max_codepoint=0x2FFF), max_size=30)


@st.composite
def zip_damage(draw) -> tuple[str, bytes]:
    """A shipped workbook cut short or with bits flipped anywhere in the file."""
    model = draw(st.sampled_from(sorted(SOURCES)))
    data = bytearray(SHIPPED[model])
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data) - 1)):]
    else:
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    return model, bytes(data)


def _mutated(draw, xml: bytes) -> bytes:
    values = [match.end() for match in re.finditer(rb"<v>", xml)]
    cells = [match.start() for match in re.finditer(rb'<c r="', xml)]
    kind = draw(st.sampled_from(["cut", "declaration", "utf16", "dimension", "value", "type", "shared", "reference",
                                 "bytes", "encoding"]))
    if kind == "cut":
        return xml[: draw(st.integers(0, len(xml)))]
    if kind == "declaration":
        return b'<?xml version="1.0"?>' + draw(DECLARATIONS) + re.sub(rb"^<\?xml[^>]*\?>", b"", xml)
    if kind == "utf16":  # the same declarations in the other encoding XML allows
        body = re.sub(rb"^<\?xml[^>]*\?>", b"", xml).decode()
        return ('<?xml version="1.0" encoding="UTF-16"?>' + draw(DECLARATIONS).decode() + body).encode("utf-16")
    if kind == "dimension":
        return re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{draw(DIMENSIONS)}"'.encode(), xml, count=1)
    if kind == "value" and values:
        start = draw(st.sampled_from(values))
        return xml[:start] + escape(draw(EXTREME_NUMBER_TEXTS)).encode() + xml[xml.index(b"</v>", start):]
    if kind in ("type", "shared") and cells:
        start = draw(st.sampled_from(cells))
        end = xml.index(b">", start)
        head = re.sub(rb' t="[^"]*"', b"", xml[start:end])
        if kind == "type":
            return xml[:start] + head + f' t="{draw(CELL_TYPES)}"'.encode() + xml[end:]
        index = draw(st.integers(-5, 10**30))
        return xml[:start] + head + b' t="s"><v>' + str(index).encode() + b"</v></c>" + _after_cell(xml, end)
    if kind == "reference" and cells:
        start = draw(st.sampled_from(cells)) + len(b'<c r="')
        return xml[:start] + escape(draw(REFERENCES), {'"': "&quot;"}).encode() + xml[xml.index(b'"', start):]
    if kind == "encoding":
        name = draw(st.sampled_from(["bogus", "utf-32", "latin-1", "UTF-16", "ascii"]))
        return f'<?xml version="1.0" encoding="{name}"?>'.encode() + re.sub(rb"^<\?xml[^>]*\?>", b"", xml)
    changed = bytearray(xml)
    for _ in range(draw(st.integers(1, 6))):
        changed[draw(st.integers(0, len(changed) - 1))] = draw(st.integers(0, 255))
    return bytes(changed)


def _after_cell(xml: bytes, end: int) -> bytes:
    """What follows the cell whose start tag ends at `end`."""
    if xml[end - 1:end + 1] == b"/>":
        return xml[end + 1:]
    return xml[xml.index(b"</c>", end) + len(b"</c>"):]


@st.composite
def xml_damage(draw) -> tuple[str, bytes]:
    """A shipped workbook, packed again as a valid zip, with one part's XML damaged (its sheets most often)."""
    model = draw(st.sampled_from(sorted(SOURCES)))
    parts = dict(PARTS[model])
    sheets = list(SHEETS[model].values())
    name = draw(st.sampled_from(sheets)) if draw(st.integers(0, 9)) < 7 else draw(st.sampled_from(sorted(parts)))
    parts[name] = _mutated(draw, parts[name])
    return model, packed(parts)


def text_cell(reference: str, text: str) -> bytes:
    return f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'.encode()


def with_cells(xml: bytes, cells: dict[str, bytes]) -> bytes:
    for reference, cell in cells.items():
        xml = re.sub(rb'<c r="' + reference.encode() + rb'"(?:[^>]*/>|[^>]*>.*?</c>)', lambda _: cell, xml, count=1,
                     flags=re.DOTALL)
    return xml


# --- In-process: every damaged workbook ends in inputs or an InputError ----------------------------------

@settings(FUZZ, max_examples=200)
@given(damage=zip_damage())
def test_zip_damage_is_named_never_a_crash(damage):
    model, data = damage
    loads_or_names_its_problem(data, model)


@settings(FUZZ, max_examples=160)
@given(damage=xml_damage())
def test_xml_damage_is_named_never_a_crash(damage):
    model, data = damage
    loads_or_names_its_problem(data, model)


HZ_PARAMETER_ROWS = {9: "bandwidth_main_hz", 10: "bandwidth_fed_hz", 12: "server_cpu_max_hz"}
UNIT_TEXT = st.one_of(st.sampled_from(["Hz/0", "(Hz", "Hz)", "[Hz", "kHz**", "Hz**9**9**9", "1/0", "MHz", "GHz",
                                       "kHz", "megahertz", "µHz", "THz", "dB", "%", "Hz^2", "nan", "inf"]),
                      st.text(st.sampled_from("()/*^0123456789 .eHzkMGTµ-+"), max_size=12))


@settings(FUZZ, max_examples=60)
@given(values=st.dictionaries(st.integers(2, 15), EXTREME_NUMBER_TEXTS, min_size=1, max_size=4),
       units=st.dictionaries(st.sampled_from(sorted(HZ_PARAMETER_ROWS)), UNIT_TEXT, max_size=3))
def test_extreme_numbers_and_unit_texts_are_named_never_a_crash(values, units):
    parts = dict(PARTS["fedsllm"])
    cells = {f"B{row}": f'<c r="B{row}" t="n"><v>{escape(text)}</v></c>'.encode() for row, text in values.items()}
    cells |= {f"C{row}": text_cell(f"C{row}", unit) for row, unit in units.items()}
    parts[FEDSLLM_PARTS["parameters"]] = with_cells(parts[FEDSLLM_PARTS["parameters"]], cells)
    outcome = loads_or_names_its_problem(packed(parts), "fedsllm")
    if not isinstance(outcome, InputError):  # whatever was read and converted is within the schema's range
        assert all(1e3 <= outcome.parameter(name) <= 1e15 for name in HZ_PARAMETER_ROWS.values())


UNICODE_IDS = st.one_of(
    st.integers(0, 999_999_999_999_999),
    st.text(st.characters(whitelist_categories=("Nd", "No", "Nl", "Lu", "Sc", "Sm", "Po")), min_size=1, max_size=6),
    st.sampled_from(["007", "0007", "１２", "²", "①", "$x^$", "$\\frac{$", "7", "12", "-3", "=1+1", " 5 "]),
)


def workbook_parts(users: dict, parameters: dict) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        data = write_fedsllm_workbook(Path(folder) / "made.xlsx", users, parameters).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {item.filename: archive.read(item.filename) for item in archive.infolist()}


FIVE_USERS = workbook_parts(users_table([-96.0, -104.0, -110.0, -116.0, -121.0]), SPEC_PARAMETERS)


@settings(FUZZ, max_examples=50)
@given(ids=st.lists(UNICODE_IDS, min_size=5, max_size=5))
def test_unicode_and_number_like_ids_are_kept_exactly(ids):
    parts = dict(FIVE_USERS)
    cells = {f"A{row}": (text_cell(f"A{row}", user) if isinstance(user, str) else
                         f'<c r="A{row}" t="n"><v>{user}</v></c>'.encode()) for row, user in enumerate(ids, start=2)}
    parts[FEDSLLM_PARTS["users"]] = with_cells(parts[FEDSLLM_PARTS["users"]], cells)
    outcome = loads_or_names_its_problem(packed(parts), "fedsllm")
    expected = [user.strip() if isinstance(user, str) else str(user) for user in ids]
    if isinstance(outcome, InputError):  # only a repeated or blank id is refused, at its id cell
        assert len(set(expected)) < len(expected) or "" in expected
        assert all(issue.column == "'user' (A)" for issue in outcome.issues)
        return
    assert list(outcome.user_ids) == expected
    with tempfile.TemporaryDirectory() as folder:  # and the xlsx report keeps them: text as text, numbers as numbers
        path = Path(folder) / "ids.xlsx"
        write_workbook(path, [ResultTable.of("ids", [Column("user", "-", "user id", ID)], [[user] for user in expected])])
        sheet = openpyxl.load_workbook(path)["ids"]
        shown = [sheet.cell(row, 1).value for row in range(2, 2 + len(expected))]
    assert shown == [int(user) if NUMBER_ID.fullmatch(user) else user for user in expected]


@pytest.mark.filterwarnings("ignore:Glyph")  # a glyph the font lacks is drawn as a box, with a warning
@settings(FUZZ, max_examples=15)
@given(texts=st.lists(XML_TEXT.filter(str.strip), min_size=1, max_size=3))
def test_ids_drawn_in_a_legend_are_never_read_as_math_text(texts):
    with paper_style():
        figure, (axes,) = new_figure(3.5, 2.0)
        for text in texts:
            axes.plot([0, 1], [0, 1], label=f"device {literal_text(text)}")
        legend = axes.legend()
        figure.canvas.draw()  # math text that cannot be parsed would raise here
        assert [entry.get_text() for entry in legend.get_texts()] == [f"device {literal_text(t)}" for t in texts]


OVERRIDE_KEYS = [("fedsllm", key) for key in ("solver.tol", "solver.max_iter", "solver.bound_relax_factor",
                                                "solver.max_hours", "eta.step", "eta.low", "baseline_eta",
                                                "eta.refine_tol", "global_eta.tol", "dask.workers", "drops", "seed",
                                                "users", "solver.gap", "monte_carlo.tol")] + \
                [("card", key) for key in ("solver.tol", "w", "rounds", "crosscheck.time_limit", "crosscheck.rounds",
                                           "dask.workers", "drops")]
OVERRIDE_VALUES = st.one_of(st.sampled_from(["inf", "-inf", "nan", "1e999", "-1e999", "1" * 400, "0", "-0", "1e-400",
                                             "0x10", "null", "[]", "{}", "''", "${oc.env:HOME}", "1e308", "-1"]),
                            st.floats(allow_nan=True, allow_infinity=True).map(repr),
                            st.integers(-10**30, 10**30).map(str))


@settings(FUZZ, max_examples=25)
@given(model_key=st.sampled_from(OVERRIDE_KEYS), value=OVERRIDE_VALUES)
def test_extreme_overrides_are_range_errors_never_a_crash(capsys, model_key, value):
    model, key = model_key
    code = main([f"model={model}", f"{key}={value}", "--cfg", "job"])
    printed = "".join(capsys.readouterr())
    assert code in (EXIT_OK, EXIT_INPUT) and "Traceback" not in printed, printed


# --- The command line: exit codes, no traceback, no crash file, nothing written, no process left ---------

TINY_PARTS = workbook_parts(users_table([-96.0, -110.0, -121.0], samples=[900, 1300, 1100],
                                         cycles=[1.2e4, 2.9e4, 2.0e4]), {**SPEC_PARAMETERS, "eta_step": 0.25})
TINY = packed(TINY_PARTS)


@st.composite
def damaged_tiny_workbook(draw) -> bytes:
    """The tiny workbook damaged at the zip level or in one sheet's XML (so a run that goes on is short)."""
    if draw(st.booleans()):
        data = bytearray(TINY)
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    parts = dict(TINY_PARTS)
    name = draw(st.sampled_from(list(FEDSLLM_PARTS.values())))
    parts[name] = _mutated(draw, parts[name])
    return packed(parts)


def lingering(session: int) -> list[psutil.Process]:
    """Processes still in `session` (the run's own session, so nothing it started can hide among ours)."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session:
                found.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


@settings(FUZZ, max_examples=3)
@given(data=damaged_tiny_workbook())
def test_the_command_line_on_damaged_workbooks_ends_cleanly(data):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        private_tmp = folder / "tmp"
        private_tmp.mkdir()
        (folder / "in.xlsx").write_bytes(data)
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "TMPDIR": str(private_tmp)}
        process = subprocess.Popen(
            [sys.executable, "-m", "solvers.run", f"data={folder / 'in.xlsx'}", f"out={folder / 'out'}",
             "problem16=false", "progress=false", "global_eta.enabled=false"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode in (EXIT_OK, EXIT_INPUT, EXIT_SOLVE), stderr
        assert "Traceback" not in stdout + stderr
        assert not list(private_tmp.glob("fedsplit-crash-*")) and not lingering(process.pid)
        if process.returncode == EXIT_INPUT:
            assert sorted(p.name for p in folder.iterdir()) == ["in.xlsx", "tmp"]
