"""A finished run's report, in memory until it is written: what the command line writes at once and the
notebook API writes only when asked (`Result.write`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reports.export import ReportFolder, ResultTable
from reports.plots import figures_table
from reports.files.run_files import RunFiles, write_run_files
from reports.style import FigureFiles

Draw = Callable[[Path | None], FigureFiles]  # draws a figure into a PNG (and its PDF), or in memory for None


@dataclass
class Report:
    """The tables in sheet order, the figures (drawn when asked for or written), other files (a study's
    Parquet), the run files, the console lines and the headline numbers."""

    workbook: str  # the xlsx file's name: fedsllm.xlsx or card.xlsx
    tables: list[ResultTable]
    lines: list[str]  # what the run prints, before the report's folder
    headline: dict[str, object] = field(default_factory=dict)
    figures: dict[str, Draw] = field(default_factory=dict)  # name (the PNG's stem) -> how to draw it
    files: dict[str, Callable[[Path], object]] = field(default_factory=dict)  # file name -> how to write it
    run_files: RunFiles | None = None

    def figure(self, name: str):
        """One figure as a matplotlib Figure, drawn now and written nowhere."""
        if name not in self.figures:
            raise KeyError(f"no figure {name!r}; this report has {', '.join(self.figures) or 'none'}")
        return self.figures[name](None).figure

    def write(self, destination: Path) -> tuple[Path, list[ResultTable]]:
        """The report folder at `destination` (which must not exist), built beside it and moved into place
        whole: every table as CSV and in the xlsx, the figures and their table, the files and the run files.
        Returns the folder and its tables (the figures table last)."""
        with ReportFolder(Path(destination)) as folder:
            for table in self.tables:
                folder.add_table(table)
            for name, write in self.files.items():
                write(folder.file(name))
            drawn = [draw(folder.file(f"{name}.png")) for name, draw in self.figures.items()]
            if drawn:
                folder.add_table(figures_table(drawn))
            if self.run_files is not None:
                write_run_files(folder, self.run_files, Path(destination))
            return folder.commit(self.workbook), folder.tables
