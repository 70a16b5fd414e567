"""One style for every figure: IEEE column widths, 8 pt text at that size, vector PDF plus 300 dpi PNG.

A figure is drawn at its printed size (single column 3.5 in, double column 7.16 in), so its fonts are
what the reader sees: at least 8 pt. Matplotlib's constrained layout places the axes, the line above them
that states the setting (what a band or bar means, how many drops) and the legend below them, each in the
room it needs. `save` writes `<name>.pdf` and `<name>.png` side by side and returns a `FigureFiles` that
says what was written (sizes, the smallest font, the axis labels, the caption line the report lists and
the Figure itself), which the tests read.
"""

from __future__ import annotations

import math
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

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
LAYOUT_PAD_IN = 0.03  # constrained layout's padding around each axes


def literal_text(text: object) -> str:
    """Text from the data (an id) as matplotlib must show it: every `$` escaped, so `$x^$` is never read as
    (and never fails as) math text."""
    return str(text).replace("$", r"\$")


# The papers' strategies, explained where they appear (legends); {eta}: the fixed eta of FE and BA.
STRATEGY_LABELS = {
    "Proposed": "Proposed: $b$, $\\eta$ optimised",
    "EB": "EB: equal $b$, $\\eta$ optimised",
    "FE": "FE: $\\eta${eta}, $b$ optimised",
    "BA": "BA: equal $b$, $\\eta${eta}",
    "CARD": "CARD: cut and clock optimised",
    "server-only": "server-only: $c = 0$ at $F_{{max}}$",
    # at c = I the server still runs the output head (docs/card.md), at F_max: its energy is that head's
    "device-only": "device-only: $c = I$, output head at $F_{{max}}$",
}


def strategy_label(strategy: str, fixed_eta: float | None = None) -> str:
    """The legend entry of a strategy; FE and BA name their fixed eta when it is known."""
    label = STRATEGY_LABELS.get(strategy, strategy)
    return label.format(eta=f" = {fixed_eta:g}" if fixed_eta is not None else " fixed")


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


@dataclass
class FigureFiles:
    pdf: Path | None  # None: drawn in memory only (`figure`)
    png: Path | None
    width_in: float
    height_in: float
    smallest_font_pt: float
    labels: list[str] = field(default_factory=list)  # every axis's x and y label
    caption: str = ""
    figure: object = None  # the matplotlib Figure (closed in pyplot; its axes, ticks and legend can be read)


@contextmanager
def paper_style():
    with plt.rc_context(PAPER_STYLE):
        yield


def new_figure(width_in: float = SINGLE_COLUMN_IN, height_in: float = 2.6, columns: int = 1):
    """A figure at its printed size with `columns` axes side by side, laid out by constrained layout."""
    figure, axes = plt.subplots(1, columns, figsize=(width_in, height_in), squeeze=False, layout="constrained")
    figure.get_layout_engine().set(w_pad=LAYOUT_PAD_IN, h_pad=LAYOUT_PAD_IN, wspace=0.04)
    return figure, list(axes[0])


def plain_number(value: float, _position=None) -> str:
    """A tick label as a reader writes the number: 50, 100, 2,000, 12.5, 0.5 (never 10^2 or 2000)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.10g}"


def plain_ticks(axes, axis: str = "y") -> None:
    """Plain-number tick labels (thousands separated) on a linear axis."""
    (axes.yaxis if axis == "y" else axes.xaxis).set_major_formatter(FuncFormatter(plain_number))


def linear_unless_decades(axes, values, axis: str = "y") -> None:
    """A log axis only when the positive data span more than a decade; then labelled in plain numbers at
    1, 2 and 5 of each decade (1 alone beyond three decades, or beyond one and a half on an x axis, whose
    labels are wide), with unlabelled minor ticks and grid lines at every other digit, so that a value
    such as 114 can be read off it. A linear axis gets plain-number labels too."""
    positive = [float(v) for v in values if v is not None and v == v and float(v) > 0]
    if not positive or max(positive) / min(positive) <= 10:
        plain_ticks(axes, axis)
        return
    (axes.set_yscale if axis == "y" else axes.set_xscale)("log")
    scale = axes.yaxis if axis == "y" else axes.xaxis
    decades = math.log10(max(positive) / min(positive))
    scale.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= (3 if axis == "y" else 1.5)
                                       else (1.0,)))
    scale.set_major_formatter(FuncFormatter(plain_number))
    scale.set_minor_locator(LogLocator(base=10, subs=tuple(float(d) for d in range(2, 10))))
    scale.set_minor_formatter(NullFormatter())
    axes.grid(True, which="minor", axis=axis, alpha=0.15)


def integer_ticks(axes, axis: str = "x") -> None:
    (axes.xaxis if axis == "x" else axes.yaxis).set_major_locator(MaxNLocator(integer=True))


def round_ticks(axes, first: int, last: int, most: int = 6) -> None:
    """Integer ticks on the x axis from `first` to `last`, both labelled (round 1 and the last round), at most
    `most` of them, the ones between at a round step (1, 2, 5, 10, 20, ...); limits half a round outside."""
    step = next(s * 10 ** e for e in range(9) for s in (1, 2, 5) if (last - first) / (s * 10 ** e) < most - 1)
    inner = [t for t in range(step * math.ceil(first / step), last + 1, step)
             if t - first >= step / 2 and last - t >= step / 2]
    axes.set_xticks(sorted({first, *inner, last}))
    axes.set_xlim(first - 0.5, last + 0.5)


def state_setting(figure, text: str) -> None:
    """The line above the axes that says what the figure rests on: the drops or scenario, and what its
    band or bars mean; wrapped to the figure's width."""
    characters = int(figure.get_figwidth() * 72 / (FONT_PT * 0.52))  # DejaVu Sans: about 0.52 em a character
    figure.suptitle(textwrap.fill(text, characters), fontsize=FONT_PT)


def legend_below(figure, axes_list, columns: int = 2, extra=()) -> None:
    """The legend of all axes (and `extra` (handle, label) pairs) under them, outside the data; constrained
    layout gives it exactly the room it needs. Fewer columns when `columns` would not fit the width."""
    handles, labels = [], []
    for axes in axes_list:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            if label not in labels and not label.startswith("_"):
                handles.append(handle)
                labels.append(label)
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    renderer = figure.canvas.get_renderer()
    for ncol in range(min(columns, len(handles)), 0, -1):
        legend = figure.legend(handles, labels, loc="outside lower center", ncol=ncol, handlelength=1.5,
                               handletextpad=0.4, columnspacing=0.9, borderaxespad=0.2)
        if ncol == 1 or legend.get_window_extent(renderer).width <= figure.bbox.width * 0.98:
            return
        legend.remove()


def value_labels(values, significant: int = 2) -> list[str]:
    """Bar labels with one number of decimals for the whole axis (never "87" beside "86.9"): as many as the
    smallest nonzero value needs for `significant` digits, none from 100 up; thousands separated."""
    finite = [abs(v) for v in values if v == v and v != 0]
    decimals = min(6, max(0, significant - 1 - math.floor(math.log10(min(finite))))) if finite else 0
    return [f"{v:,.{decimals}f}" if v == v else "" for v in values]


def _smallest_font(figure) -> float:
    sizes = [text.get_fontsize() for text in figure.findobj(matplotlib.text.Text) if text.get_text().strip()]
    return min(sizes) if sizes else float(FONT_PT)


def save(figure, axes_list, png_path: Path | None, caption: str) -> FigureFiles:
    """Major grid lines; write PDF and PNG at the printed size (none when `png_path` is None: the figure is
    kept in memory); close it in pyplot (the Figure itself stays readable)."""
    for axes in axes_list:
        axes.grid(True, which="major")
        axes.set_axisbelow(True)
    png_path = Path(png_path) if png_path is not None else None
    pdf_path = png_path.with_suffix(".pdf") if png_path is not None else None
    if png_path is not None:
        figure.savefig(pdf_path)
        figure.savefig(png_path, dpi=DPI)
    width, height = figure.get_size_inches()
    files = FigureFiles(pdf_path, png_path, float(width), float(height), _smallest_font(figure),
                        [label for axes in axes_list for label in (axes.get_xlabel(), axes.get_ylabel())], caption,
                        figure)
    plt.close(figure)
    return files
