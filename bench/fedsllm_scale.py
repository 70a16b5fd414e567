"""Benchmark: the whole FedsLLM main job against the eta search alone, at network scale, in one process.

    ./fedsplit bench fedsllm_scale [users=500,5000,20000] [large=false] [writer=true] [repeats=2]

For each K a scenario is drawn (data.fedsllm.generate, seed 1) into a temporary workbook, then, in this process:
  - eta search: the structured eta search as the main job runs it (`EtaSearch.run`: the 0.01 grid, the
    Brent refinement and, up to solver.certify_max_users, Ipopt's re-solve of eta* that the Lemma 3/KKT
    certificate reads), on the workbook's inputs;
  - structured only: the same search with no Ipopt re-solve (solver.certify_max_users=0);
  - whole main job: `./fedsplit run model=fedsllm data=<K users>.xlsx` called in-process (reading and
    validating the workbook, the search, the certified optimum over eta and EB's, Problem (16)'s
    cross-check, the certificate, the report folder),
and prints | K | whole main job | eta search alone | ratio | (aim: at most 1.5 at K = 5,000 and 20,000),
with the structured-only search and its ratio beside it. `large=true` adds K = 100,000. A warm-up run on
the shipped workbook first loads every library, so neither side pays for imports. Each side is timed
`repeats` times (alternating, K = 100,000 once) and its fastest time kept: a single run moves by 10-20 %
with the machine's state.

`writer=true` (the default) also times the report writer alone on the tables of a K = 20,000 report (the
allocation, 140,013 Lemma 3/KKT rows, the small sheets): rows per second of reports/export.write_workbook,
against the old openpyxl writer (its algorithm as it was: an append per row that asked the sheet for its
last row, then a style per cell) on the Lemma 3/KKT sheet cut to 5,000 rows, where it takes seconds.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from data.fedsllm.generate import ScenarioSettings, draw_users, write_fedsllm_workbook
from data.fedsllm.inputs import DEFAULT_WORKBOOK, load_fedsllm
from solvers.app.cli import main as fedsplit_run
from solvers.fedsllm.search import EngineSettings, EtaSearch, eta_grid_for
from solvers.runtime.ipopt import IpoptSolver

LARGE = 100_000


def whole_job(data: Path, out: Path) -> float:
    started = time.perf_counter()
    code = fedsplit_run(["model=fedsllm", f"data={data}", f"out={out}", "progress=false"])
    if code != 0:
        raise RuntimeError(f"the main job on {data} exited with {code}")
    return time.perf_counter() - started


def eta_search(data: Path, certify_max_users: int | None = None) -> float:
    """The job's eta search on the workbook's inputs (read before the clock starts)."""
    inputs = load_fedsllm(data)
    settings = EngineSettings() if certify_max_users is None else EngineSettings(certify_max_users=certify_max_users)
    started = time.perf_counter()
    result = EtaSearch(inputs, IpoptSolver(), engine=settings).run(eta_grid_for(inputs), 1e-6)
    if result.best is None:
        raise RuntimeError(f"the eta search on {data} found no optimum")
    return time.perf_counter() - started


def scale_table(users: list[int], folder: Path, repeats: int) -> list[tuple]:
    whole_job(DEFAULT_WORKBOOK, folder / "warm-up")
    rows = []
    for count in users:
        data = write_fedsllm_workbook(folder / f"users-{count}.xlsx", draw_users(ScenarioSettings(users=count, seed=1)))
        times = []
        for attempt in range(repeats if count < LARGE else 1):
            times.append((whole_job(data, folder / f"report-{count}-{attempt}"), eta_search(data),
                          eta_search(data, certify_max_users=0)))
        job, search, structured = (min(side) for side in zip(*times))
        rows.append((count, job, search, structured))
        print(f"K = {count}: whole job {job:.1f} s, eta search {search:.1f} s, structured only {structured:.1f} s",
              file=sys.stderr)
    return rows


def report_tables(users: int):
    """The tables of a K-user FedsLLM report, filled with random numbers of the report's kinds."""
    from reports.export import Column, ResultTable
    from reports.fedsllm import ALLOCATION_COLUMNS, CERTIFICATE_COLUMNS

    rng = np.random.default_rng(1)
    ids = [str(k) for k in range(1, users + 1)]
    allocation = ResultTable.from_columns("allocation", ALLOCATION_COLUMNS, [
        ids, *(rng.normal(-110, 8, users) for _ in range(2)), rng.integers(500, 2000, users).tolist(),
        rng.uniform(1e4, 3e4, users), np.full(users, 2e9), np.full(users, 10.0), np.full(users, 10.0),
        *(rng.lognormal(0, 2, users) for _ in range(11))])
    checks = ("lemma3_eq19", "lemma3_eq20", "lemma3_eq21", "slack_17a", "lambda_17a", "multiplier_17b",
              "multiplier_17c")
    rows = users * len(checks) + 13
    certificate = ResultTable.from_columns("lemma3_kkt", CERTIFICATE_COLUMNS, [
        np.tile(checks, users + 2)[:rows].tolist(), np.repeat(ids, len(checks)).tolist() + ["all"] * 13,
        rng.lognormal(-30, 3, rows), "-", "<= 1e-06", "PASS", "|t_c + v log2(1/eta) t_s - ((1-eta)T/a - tau)| / ((1-eta)T/a)"])
    summary = ResultTable.of("summary", [Column(n, "-", n) for n in ("name", "value", "unit", "description")],
                             [(f"quantity_{i}", float(rng.lognormal()), "s", "a summary row") for i in range(60)])
    return [summary, allocation, certificate]


def old_openpyxl_writer(path: Path, tables) -> None:
    """The writer this bench compares against, as it was: openpyxl, each row appended and its text cells
    typed after asking the sheet for its last row (max_row scans every cell), a format per cell."""
    import openpyxl
    from openpyxl.styles import Font

    from reports.export import PERCENT, header_text, number_format

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for table in tables:
        sheet = workbook.create_sheet(table.name)
        for values in [[header_text(c) for c in table.columns], *table.rows]:
            sheet.append(values)
            row = sheet.max_row
            for column, value in enumerate(values, start=1):
                if isinstance(value, str):
                    sheet.cell(row=row, column=column).data_type = "s"
        for index, column in enumerate(table.columns, start=1):
            sheet.cell(row=1, column=index).font = Font(bold=True)
            style = number_format([r[index - 1] for r in table.rows], column.format == PERCENT)
            for offset in range(2, len(table) + 2):
                sheet.cell(row=offset, column=index).number_format = style
    workbook.save(path)


def writer_bench(folder: Path) -> list[str]:
    from reports.export import ResultTable, write_workbook

    tables = report_tables(20_000)
    rows = sum(len(t) for t in tables)
    started = time.perf_counter()
    write_workbook(folder / "new.xlsx", tables)
    new_seconds = time.perf_counter() - started
    cut = ResultTable.from_columns("lemma3_kkt", tables[2].columns,
                                   [tables[2].column_values(i)[:5000] for i in range(len(tables[2].columns))])
    started = time.perf_counter()
    old_openpyxl_writer(folder / "old.xlsx", [cut])
    old_seconds = time.perf_counter() - started
    started = time.perf_counter()
    write_workbook(folder / "new-cut.xlsx", [cut])
    new_cut_seconds = time.perf_counter() - started
    return [f"report writer, the tables of a K = 20,000 report ({rows:,} rows, "
            f"{sum(len(t) * len(t.columns) for t in tables):,} cells): {new_seconds:.2f} s, "
            f"{rows / new_seconds:,.0f} rows/s (aim: the whole report within 10 s)",
            f"Lemma 3/KKT sheet cut to 5,000 rows: old openpyxl writer {old_seconds:.2f} s "
            f"({5000 / old_seconds:,.0f} rows/s), this writer {new_cut_seconds:.3f} s "
            f"({5000 / new_cut_seconds:,.0f} rows/s): {old_seconds / new_cut_seconds:.0f}x"]


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"users": [500, 5000, 20000], "large": False, "writer": True, "repeats": 2},
                             OmegaConf.from_dotlist(argv))
    listed = str(config.users).strip("[]").split(",") if isinstance(config.users, (str, int)) else config.users
    users = [int(k) for k in listed] + ([LARGE] if config.large else [])
    with tempfile.TemporaryDirectory() as folder:
        rows = scale_table(users, Path(folder), int(config.repeats))
        lines = writer_bench(Path(folder)) if config.writer else []
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"fastest of {int(config.repeats)} runs per side (K = {LARGE:,}: one)")
    print("| K | whole main job | eta search alone | ratio | structured only | ratio to it |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count, job, search, structured in rows:
        print(f"| {count:,} | {job:.1f} s | {search:.1f} s | {job / search:.2f}x | {structured:.1f} s | "
              f"{job / structured:.1f}x |")
    for line in lines:
        print(line)
    print(f"peak resident memory of the process: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
