"""The figures as an IEEE reviewer reads them, read back from matplotlib: scales, limits, tick labels,
legends and what the figure says it rests on, drawn from real runs (the plot functions return the
Figure with their files)."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from data.card.inputs import DEFAULT_CARD_WORKBOOK, load_card
from data.card.profile import build_profile
from reports.plots import plot_eta_sweep, plot_fig2, plot_fig3, plot_fig4
from reports.study import fig4_figures, plot_pareto_with_ci, plot_sweep_with_ci
from reports.sweep_axis import SWEEP_COLUMN, sweep_axis
from solvers import api
from solvers.card.state import solve_state

PLAIN_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")


def drawn(files):
    """The saved Figure, laid out as written (text extents are only known after a draw; a closed figure
    needs a canvas again)."""
    figure = files.figure
    FigureCanvasAgg(figure).draw()
    return figure


def extent(artist, figure):
    return artist.get_window_extent(figure.canvas.get_renderer())


def legend_texts(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def assert_legend_below_the_axes(figure, at_most: float):
    """One legend, under every axes (outside the data), taking at most `at_most` of the figure's height."""
    (legend,) = figure.legends
    box = extent(legend, figure)
    lowest = min(extent(axes, figure).y0 for axes in figure.axes)
    assert box.y1 <= lowest + 1e-6, (box, lowest)
    assert box.height <= at_most * figure.bbox.height, box.height / figure.bbox.height
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width + 1e-6  # not cut at the edges


def setting(figure) -> str:
    """The line above the axes that says what the figure rests on."""
    return figure._suptitle.get_text().replace("\n", " ")


# --- Fig. 2 -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def power_sweep():
    return api.fedsllm(study="power_sweep", power_sweep__powers_dbm=[0, 10, 20], baseline_eta=0.2, problem16=False)


def test_fig2_log_axis_is_readable_and_the_legend_leaves_room_for_the_data(power_sweep, tmp_path):
    table = power_sweep.fig2
    powers = sorted(table["power_dbm"].unique())
    delays = {s: table[table["strategy"] == s].sort_values("power_dbm")["T"].tolist() for s in ("Proposed", "EB",
                                                                                                 "FE", "BA")}
    figure = drawn(plot_fig2(powers, delays, tmp_path / "fig2.png", users=50, fixed_eta=0.2))
    axes = figure.axes[0]
    values = [v for d in delays.values() for v in d]
    assert max(values) / min(values) > 10 and axes.get_yscale() == "log"
    low, high = axes.get_ylim()
    labelled = [(tick, label.get_text()) for tick, label in zip(axes.get_yticks(), axes.get_yticklabels())
                if low <= tick <= high]
    assert all(PLAIN_NUMBER.match(text) for _, text in labelled), labelled  # 200, 1,000: never 10^3
    ticks = sorted(tick for tick, _ in labelled)
    for value in values:  # every value between two labelled ticks at most 2.5x apart: 114 s reads as 100-200
        below = max((t for t in ticks if t <= value), default=low)
        above = min((t for t in ticks if t >= value), default=high)
        assert above / below <= 2.5, (value, below, above)
    assert extent(axes, figure).height >= 0.5 * figure.bbox.height
    assert_legend_below_the_axes(figure, at_most=0.2)
    texts = legend_texts(figure)
    assert any(t.startswith("FE") and "= 0.2" in t for t in texts) and any(t.startswith("BA") and "= 0.2" in t
                                                                           for t in texts)
    assert "one scenario" in setting(figure) and "K = 50" in setting(figure)


# --- The eta sweep ------------------------------------------------------------------------------

def test_eta_sweep_draws_the_lower_bounds_thin_and_under_the_curve(tmp_path):
    etas = np.linspace(0.05, 0.95, 19)
    delays = 100 + 40 * (etas - 0.8) ** 2
    intervals = [SimpleNamespace(low=a, high=a + 0.05, lower_bound=t * (1 - 1e-3)) for a, t in zip(etas, delays)]
    figure = drawn(plot_eta_sweep(etas, delays, 0.8, 100.0, tmp_path / "eta.png", intervals, users=3))
    axes = figure.axes[0]
    curve = next(line for line in axes.get_lines() if "Problem (17)" in line.get_label())
    (bounds,) = axes.collections
    assert bounds.get_zorder() < curve.get_zorder()
    assert max(bounds.get_linewidths()) < curve.get_linewidth()
    assert min(bounds.get_colors()[0][:3]) > 0.4  # grey, lighter than the curve
    assert "one scenario" in setting(figure)
    assert_legend_below_the_axes(figure, at_most=0.3)


# --- Fig. 3 -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def poor_channel():
    """CARD's decisions in the Poor channel of the shipped setting: some device-rounds out of range."""
    inputs = load_card(DEFAULT_CARD_WORKBOOK)
    result = solve_state(inputs, build_profile(inputs), "Poor")
    assert result.out_of_range, "the shipped Poor channel has device-rounds out of range"
    return inputs, result


def workbook_platforms() -> dict[str, str]:
    rows = list(openpyxl.load_workbook(DEFAULT_CARD_WORKBOOK)["devices"].values)
    header = list(rows[0])
    return {str(row[header.index("device")]): str(row[header.index("platform")]) for row in rows[1:]}


def test_fig3_draws_every_cut_where_it_is_with_gaps_and_platform_names(poor_channel, tmp_path):
    inputs, result = poor_channel
    platforms = workbook_platforms()
    figure = drawn(plot_fig3(result, tmp_path / "fig3.png", 0.2, platforms))
    cut_axes, clock_axes = figure.axes
    last_round = inputs.parameter("rounds")
    last_cut = result.pairs[0].last_cut
    missing = {(device, n) for device, n, *_ in result.out_of_range}
    cuts = {(d.device, d.round): d.cut for d in result.card}
    for axes, values in ((cut_axes, cuts), (clock_axes, {(d.device, d.round): d.clock_ghz for d in result.card})):
        lines = {line.get_label().split(":")[0]: line for line in axes.get_lines()}
        assert set(lines) == set(platforms)
        for device, line in lines.items():
            assert list(line.get_xdata()) == list(range(1, last_round + 1))
            for n, y in zip(line.get_xdata(), line.get_ydata()):
                if (device, n) in missing:
                    assert math.isnan(y), (device, n)  # a gap, never a line across it
                else:
                    assert y == values[device, n]  # exactly the decision: no offset
    for axes in (cut_axes, clock_axes):
        shown = [t for t in axes.get_xticks() if axes.get_xlim()[0] <= t <= axes.get_xlim()[1]]
        assert shown[0] == 1 and shown[-1] == last_round
    low, high = cut_axes.get_ylim()
    assert -0.1 * last_cut <= low <= 0 and last_cut <= high <= 1.1 * last_cut
    assert len([t for t in cut_axes.get_yticks() if 0 <= t <= last_cut]) >= 4
    assert [axes.get_title()[:3] for axes in figure.axes] == ["(a)", "(b)"]
    assert all(any(name in text for text in legend_texts(figure)) for name in platforms.values())
    assert_legend_below_the_axes(figure, at_most=0.2)
    assert f"{len(missing)} device-rounds out of range" in setting(figure)


# --- Fig. 4 -------------------------------------------------------------------------------------

def bar_labels(axes) -> list[str]:
    return [t.get_text() for t in axes.texts]


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def test_fig4_is_linear_with_panel_labels_and_one_rounding_per_panel(tmp_path):
    benchmarks = api.card(rounds=2).benchmarks
    bars = {(r.channel_state, r.method): (r.delay_s, r.energy_j) for r in benchmarks.itertuples()}
    figure = drawn(plot_fig4(bars, tmp_path / "fig4.png", 0.2))
    for column, axes in enumerate(figure.axes):
        assert axes.get_yscale() == "linear" and axes.get_ylim()[0] == 0
        heights = [v[column] for v in bars.values()]
        assert axes.get_ylim()[1] >= max(heights)
        labels = bar_labels(axes)
        assert len(labels) == len(heights) and len({decimals(t) for t in labels}) == 1, labels
        shown = sorted(float(t.replace(",", "")) for t in labels)
        assert shown == pytest.approx(sorted(heights), abs=0.5 * 10 ** -decimals(labels[0]))
    assert [axes.get_title()[:3] for axes in figure.axes] == ["(a)", "(b)"]
    device_only = next(t for t in legend_texts(figure) if t.startswith("device-only"))
    if benchmarks.loc[benchmarks["method"] == "device-only", "energy_j"].min() > 0:
        assert "head" in device_only  # the server's energy there is the output head's, at F_max
    assert "one scenario" in setting(figure)
    assert_legend_below_the_axes(figure, at_most=0.15)


@pytest.fixture(scope="module")
def card_w_study():
    result = api.card(study="monte_carlo", drops=3, rounds=2, sweep__name="w", sweep__values=[0.2, 0.8],
                      dask__workers=1)
    return result, result.means.rename(columns={"w": SWEEP_COLUMN})


def test_study_fig4s_one_per_w_each_labelled_on_one_scale(card_w_study, tmp_path):
    _, summary = card_w_study
    figures = {name: drawn(draw(tmp_path / f"{name}.png"))
               for name, draw in fig4_figures(summary, sweep_axis("card", "w"), 0.2).items()}
    assert sorted(figures) == ["fig4_w_0.2", "fig4_w_0.8"]
    for panel in (0, 1):
        assert len({figure.axes[panel].get_ylim() for figure in figures.values()}) == 1
    for name, figure in figures.items():
        w = name.removeprefix("fig4_w_")
        assert f"w = {w}" in setting(figure) and "mean of 3 drops" in setting(figure)
        assert "95 % CI" in setting(figure)


def test_pareto_keeps_the_channel_states_apart_and_its_w_labels_off_the_data(card_w_study, tmp_path):
    _, summary = card_w_study
    figure = drawn(plot_pareto_with_ci(summary, tmp_path / "pareto.png"))
    axes = figure.axes[0]
    curves = [container.lines[0] for container in axes.containers]  # each state's errorbar: its data line
    assert len(curves) == 3
    assert len({line.get_marker() for line in curves}) == 3 and len({line.get_linestyle() for line in curves}) == 3
    points = np.vstack([axes.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
                        for line in curves])
    labels = [text for text in axes.texts if text.get_text().startswith("w = ")]
    assert sorted(t.get_text() for t in labels) == ["w = 0.2", "w = 0.8"]
    for text in labels:
        box = extent(text, figure)
        assert not any(box.contains(x, y) for x, y in points), text.get_text()
        inside = extent(axes, figure)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and box.y1 <= inside.y1  # within the axes
    assert "mean of 3 drops" in setting(figure) and "95 % CI" in setting(figure)


# --- Fig. 2 of a study ----------------------------------------------------------------------------

def test_study_fig2_says_its_band_is_a_95_ci_over_its_drops(tmp_path):
    result = api.fedsllm(study="monte_carlo", drops=3, users=4, sweep__name="power_dbm", sweep__values=[0, 10],
                         dask__workers=1)
    summary = result.means.rename(columns={"power_dbm": SWEEP_COLUMN})
    figure = drawn(plot_sweep_with_ci(summary, "T_s", sweep_axis("fedsllm", "power_dbm"), "caption",
                                      tmp_path / "fig2.png", 4, fixed_eta=0.1))
    assert "mean of 3 drops" in setting(figure) and "band: 95 % CI" in setting(figure)
    assert len(figure.axes[0].collections) == 4  # one band per strategy
    assert any(t.startswith("FE") and "= 0.1" in t for t in legend_texts(figure))
    assert_legend_below_the_axes(figure, at_most=0.2)
