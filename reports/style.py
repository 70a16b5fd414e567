"""One style for every figure: IEEE column widths, 8 pt text at that size, vector PDF plus 300 dpi PNG.

A figure is drawn at its printed size (single column 3.5 in, double column 7.16 in), so its fonts are
what the reader sees: at least 8 pt. `save` writes `<name>.pdf` and `<name>.png` side by side and returns
a `FigureFiles` that says what was written (sizes, the smallest font, the axis labels and the caption
line the report lists), which the tests read.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import MaxNLocator  # noqa: E402

SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.16
FONT_PT = 8
DPI = 300
PAPER_STYLE = {
    "font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT, "legend.title_fontsize": FONT_PT,
    "figure.titlesize": FONT_PT, "lines.linewidth": 1.0, "lines.markersize": 3.5, "axes.linewidth": 0.6,
    "grid.linewidth": 0.4, "grid.alpha": 0.35, "savefig.dpi": DPI, "pdf.fonttype": 42, "ps.fonttype": 42,
    "mathtext.fontset": "dejavusans", "legend.frameon": False,
}


def literal_text(text: object) -> str:
    """Text from the data (an id) as matplotlib must show it: every `$` escaped, so `$x^$` is never read as
    (and never fails as) math text."""
    return str(text).replace("$", r"\$")


# The papers' strategies, explained where they appear (legends).
STRATEGY_LABELS = {
    "Proposed": "Proposed: bandwidth and $\\eta$ optimised",
    "EB": "EB: equal bandwidth, $\\eta$ optimised",
    "FE": "FE: $\\eta$ fixed, bandwidth optimised",
    "BA": "BA: equal bandwidth, $\\eta$ fixed",
    "CARD": "CARD (cut and clock optimised)",
    "server-only": "server-only ($c = 0$, $F_{max}$)",
    "device-only": "device-only ($c = I$, $F_{max}$)",
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


@dataclass
class FigureFiles:
    pdf: Path
    png: Path
    width_in: float
    height_in: float
    smallest_font_pt: float
    labels: list[str] = field(default_factory=list)  # every axis's x and y label
    caption: str = ""


@contextmanager
def paper_style():
    with plt.rc_context(PAPER_STYLE):
        yield


def new_figure(width_in: float = SINGLE_COLUMN_IN, height_in: float = 2.6, columns: int = 1):
    """A figure at its printed size with `columns` axes side by side."""
    figure, axes = plt.subplots(1, columns, figsize=(width_in, height_in), squeeze=False)
    return figure, list(axes[0])


def linear_unless_decades(axes, values, axis: str = "y") -> None:
    """A log axis only when the positive data span more than a decade."""
    positive = [float(v) for v in values if v is not None and float(v) > 0]
    if positive and max(positive) / min(positive) > 10:
        (axes.set_yscale if axis == "y" else axes.set_xscale)("log")


def integer_ticks(axes, axis: str = "x") -> None:
    (axes.xaxis if axis == "x" else axes.yaxis).set_major_locator(MaxNLocator(integer=True))


def legend_below(figure, axes_list, columns: int = 2) -> None:
    """The legend of the first axes under all axes, outside the data."""
    handles, labels = [], []
    for axes in axes_list:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        figure.legend(handles, labels, loc="lower center", ncol=columns, bbox_to_anchor=(0.5, 0.0),
                      handlelength=1.8, columnspacing=1.0)


def _smallest_font(figure) -> float:
    sizes = [text.get_fontsize() for text in figure.findobj(matplotlib.text.Text) if text.get_text().strip()]
    return min(sizes) if sizes else float(FONT_PT)


def save(figure, axes_list, png_path: Path, caption: str, legend_rows: int = 0) -> FigureFiles:
    """Grid, tight layout leaving `legend_rows` lines of room below for a legend; write PDF and PNG; close."""
    png_path = Path(png_path)
    for axes in axes_list:
        axes.grid(True, which="major")
    bottom = min(0.45, 0.05 + 0.075 * legend_rows * (2.6 / figure.get_figheight()))
    figure.tight_layout(rect=(0, bottom, 1, 1), pad=0.4)
    pdf_path = png_path.with_suffix(".pdf")
    figure.savefig(pdf_path)
    figure.savefig(png_path, dpi=DPI)
    width, height = figure.get_size_inches()
    files = FigureFiles(pdf_path, png_path, float(width), float(height), _smallest_font(figure),
                        [label for axes in axes_list for label in (axes.get_xlabel(), axes.get_ylabel())], caption)
    plt.close(figure)
    return files
