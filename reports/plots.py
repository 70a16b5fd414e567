"""The reports' figures, one function each, in the shared paper style (reports/style.py): IEEE column
width, 8 pt text, vector PDF plus 300 dpi PNG, math text, linear axes unless the data span more than a
decade (then plain-number labels at 1, 2 and 5), integer ticks for rounds and dBm, legends outside the
data, and a line above the axes saying what the figure rests on (one scenario or N drops) and what its
band or bars mean. Each returns its FigureFiles (with the Figure, for the tests), whose caption line the
report lists in its `figures` table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator, MultipleLocator

from reports.export import Column, ResultTable
from reports.style import (
    DOUBLE_COLUMN_IN,
    FONT_PT,
    MARKERS,
    SINGLE_COLUMN_IN,
    FigureFiles,
    integer_ticks,
    legend_below,
    linear_unless_decades,
    literal_text,
    new_figure,
    paper_style,
    plain_ticks,
    round_ticks,
    save,
    state_setting,
    strategy_label,
    value_labels,
)

ONE_SCENARIO = "one scenario (the workbook's)"
CI_NOTE = "95 % CI (Student t)"


def plot_eta_sweep(etas, delays, best_eta: float, best_delay: float, path: Path, envelope=(),
                   users: int | None = None) -> FigureFiles:
    """T*(eta) over the grid and refinement, with the optimum marked; `envelope`: the global search's
    intervals (`low`, `high`, `lower_bound`), drawn thin, light and below the curve as the lower bound it
    proved on each, so that the curve stays visible."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 2.6)
        axes.plot(etas, delays, "-", color="tab:blue", linewidth=1.2, zorder=3, label="$T^*(\\eta)$, Problem (17)")
        shown = [i for i in envelope if i.lower_bound <= 10 * max(delays) and i.high > i.low]
        if shown:
            axes.hlines([i.lower_bound for i in shown], [i.low for i in shown], [i.high for i in shown],
                        colors="0.55", linewidth=0.6, zorder=2, label="proven lower bound on each $\\eta$ interval")
        axes.plot([best_eta], [best_delay], "*", color="tab:red", markersize=8, zorder=4,
                  label=f"optimum $\\eta^*$ = {best_eta:.4f}, $T^*$ = {best_delay:.4g} s")
        linear_unless_decades(axes, delays)
        axes.set_xlabel("local accuracy $\\eta$")
        axes.set_ylabel("total training delay $T$ (s)")
        setting = f", K = {users} users" if users else ""
        state_setting(figure, f"{ONE_SCENARIO}{setting}")
        legend_below(figure, [axes], columns=1)
        return save(figure, [axes], path, f"FedsLLM: optimal delay T*(eta) over eta, {ONE_SCENARIO}{setting}, "
                                          f"Problem (17); optimum eta* = {best_eta:.4f}, T* = {best_delay:.4g} s")


def plot_fig2(powers, delays_by_strategy: dict[str, list[float]], path: Path, users: int | None = None,
              bands: dict[str, tuple[list[float], list[float]]] | None = None, x_label: str | None = None,
              caption: str | None = None, fixed_eta: float | None = None,
              drops: int | str | None = None) -> FigureFiles:
    """Latency against maximum transmit power, one line per strategy (the paper's Fig. 2); `bands`: a 95 %
    confidence interval per strategy over `drops` drops (Monte Carlo studies); `fixed_eta`: FE's and BA's
    eta, named in the legend."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 2.7)
        values = []
        for index, (strategy, delays) in enumerate(delays_by_strategy.items()):
            line, = axes.plot(powers, delays, marker=MARKERS[index % len(MARKERS)], zorder=3,
                              label=strategy_label(strategy, fixed_eta))
            values += list(delays)
            if bands and strategy in bands:
                low, high = bands[strategy]
                axes.fill_between(powers, low, high, color=line.get_color(), alpha=0.18, linewidth=0, zorder=2)
                values += list(low) + list(high)
        linear_unless_decades(axes, values)
        if x_label is None:
            integer_ticks(axes)
            steps = sorted({round(b - a, 9) for a, b in zip(powers, powers[1:])})
            if len(steps) == 1 and float(steps[0]).is_integer():
                axes.xaxis.set_major_locator(MultipleLocator(max(1, int(steps[0]) * (1 if len(powers) <= 8 else 2))))
        axes.set_xlabel(x_label or "maximum transmit power $p^{max}$ (dBm)")
        axes.set_ylabel("total training delay $T$ (s)")
        users_text = f", K = {users} users" if users else ""
        setting = f"mean of {drops} drops{users_text}; band: {CI_NOTE}" if bands else f"{ONE_SCENARIO}{users_text}"
        state_setting(figure, f"{setting}; $b$: bandwidth")
        legend_below(figure, [axes], columns=2)
        text = caption or f"FedsLLM Fig. 2: delay against maximum transmit power{users_text}"
        if bands:
            text += f"; shaded: 95 % confidence interval (Student t) over {drops} drops"
        return save(figure, [axes], path, text)


def _device_series(result, device, rounds: list[int], attribute: str) -> list[float]:
    """One device's value per round, NaN where it has no decision (out of range), so no line bridges it."""
    mine = {d.round: getattr(d, attribute) for d in result.card if d.device == device}
    return [float(mine[n]) if n in mine else math.nan for n in rounds]


def plot_fig3(result, path: Path, w: float | None = None, platforms: dict | None = None) -> FigureFiles:
    """Cut layer and server clock per round, a line per device (the paper's Fig. 3), every value where it
    is (no offsets); devices that share a cut show their own hollow markers, nested by size. Rounds without a decision (link out of range) are gaps. `platforms`: device id -> platform name,
    for the legend."""
    devices = list(dict.fromkeys([*(d.device for d in result.card), *(o[0] for o in result.out_of_range)]))
    last_cut = max((pair.last_cut for pair in result.pairs), default=1)
    last_round = max([d.round for d in result.card] + [o[1] for o in result.out_of_range])
    rounds = list(range(1, last_round + 1))
    with paper_style():
        figure, axes_pair = new_figure(DOUBLE_COLUMN_IN, 2.6, columns=2)
        cut_axes, clock_axes = axes_pair
        for index, device in enumerate(devices):
            marker = MARKERS[index % len(MARKERS)]
            name = (f"{literal_text(device)}: {literal_text(platforms[device])}" if platforms and device in platforms
                    else f"device {literal_text(device)}")
            # on a shared cut the markers nest, the first device's largest, all hollow, so each one shows
            size = 3.0 + 4.0 * (len(devices) - 1 - index) / max(1, len(devices) - 1)
            cut_axes.plot(rounds, _device_series(result, device, rounds, "cut"), marker=marker, markersize=size,
                          markerfacecolor="none", markeredgewidth=0.8, label=name)
            clock_axes.plot(rounds, _device_series(result, device, rounds, "clock_ghz"), marker=marker, label=name)
        cut_axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 4, 5, 8, 10]))
        cut_axes.set_ylim(-0.06 * last_cut, 1.06 * last_cut)
        for axes in axes_pair:
            round_ticks(axes, 1, last_round)
            axes.set_xlabel("training round $n$")
        cut_axes.set_ylabel(f"cut layer $c$ (0 to $I$ = {last_cut})")
        cut_axes.set_title("(a) optimal cut")
        clock_axes.set_ylabel("server GPU clock $f$ (GHz)")
        clock_axes.set_title("(b) server clock")
        weight = f", w = {w:g}" if w is not None else ""
        gaps = (f"; {len(result.out_of_range)} device-rounds out of range left blank" if result.out_of_range
                else "")
        state_setting(figure, f"CARD decisions in the {result.state} channel, {ONE_SCENARIO}{weight}{gaps}")
        legend_below(figure, axes_pair, columns=min(len(devices), 5))
        return save(figure, axes_pair, path, f"CARD Fig. 3: each device's cut and server clock per round, "
                                             f"{result.state} channel{weight}, {ONE_SCENARIO}{gaps}")


def fig4_tops(*panels) -> tuple[float, float]:
    """The largest delay and energy any of these Fig. 4 panels shows (bars or error-bar tops): one scale for
    every Fig. 4 of a study. Each panel is (benchmarks, errors or None) as plot_fig4 takes them."""
    tops = [0.0, 0.0]
    for benchmarks, errors in panels:
        for key, heights in benchmarks.items():
            for column in (0, 1):
                high = errors[key][column][1] if errors else heights[column]
                tops[column] = max(tops[column], float(np.nanmax([heights[column], high])))
    return tops[0], tops[1]


def plot_fig4(benchmarks, path: Path, w: float | None = None, errors: dict | None = None,
              drops: int | str | None = None, tops: tuple[float, float] | None = None,
              point: str | None = None) -> FigureFiles:
    """Grouped bars: mean delay and server energy per round by method and channel state (the paper's
    Fig. 4), on linear axes, each bar's value above it (one number of decimals per panel). `benchmarks`
    maps (state, method) to (delay_s, energy_j); `errors` the same to ((low, high), (low, high)) 95 %
    intervals over `drops` drops (Monte Carlo); `tops`: the largest values to scale to (fig4_tops), so
    that several figures share a scale; `point`: the study's sweep point, when it is not w (`bandwidth_hz =
    20 MHz`)."""
    states = list(dict.fromkeys(state for state, _ in benchmarks))
    methods = list(dict.fromkeys(method for _, method in benchmarks))
    tops = tops or fig4_tops((benchmarks, errors))
    with paper_style():
        figure, axes_pair = new_figure(DOUBLE_COLUMN_IN, 2.6, columns=2)
        width = 0.8 / len(methods)
        panels = (("(a) mean delay per round", "delay $D$ (s)"),
                  ("(b) mean server energy per round", "server energy $E$ (J)"))
        for column, (axes, (title, label)) in enumerate(zip(axes_pair, panels)):
            heights = {method: [benchmarks[state, method][column] for state in states] for method in methods}
            texts = dict(zip(methods, np.array_split(value_labels([h for m in methods for h in heights[m]]),
                                                     len(methods))))
            for index, method in enumerate(methods):
                x = [s + index * width for s in range(len(states))]
                tips = heights[method]
                yerr = None
                if errors:
                    tips = [errors[s, method][column][1] for s in states]
                    yerr = [[h - errors[s, method][column][0] for s, h in zip(states, heights[method])],
                            [t - h for t, h in zip(tips, heights[method])]]
                axes.bar(x, heights[method], width, label=strategy_label(method), yerr=yerr, capsize=2,
                         error_kw={"linewidth": 0.8})
                for xi, tip, text in zip(x, tips, texts[method]):  # the value above the bar and its error bar
                    axes.annotate(text, (xi, tip), xytext=(0, 2), textcoords="offset points", ha="center",
                                  va="bottom", rotation=90, fontsize=FONT_PT)
            axes.set_xticks([s + width * (len(methods) - 1) / 2 for s in range(len(states))], states)
            axes.set_xlabel("channel state")
            axes.set_ylabel(label)
            axes.set_title(title)
            axes.set_ylim(0, tops[column] * 1.38)  # room above the tallest bar for its label
            plain_ticks(axes, "y")
        weight = (f", w = {w:g}" if w is not None else "") + (f", {point}" if point else "")
        if errors:
            setting = f"mean of {drops} drops{weight}; error bars: {CI_NOTE}"
        else:
            setting = f"{ONE_SCENARIO}{weight}: means over the device-rounds in range"
        state_setting(figure, setting)
        legend_below(figure, axes_pair, columns=len(methods))
        text = f"CARD Fig. 4: {setting}, by method and channel state"
        return save(figure, axes_pair, path, text)


PARETO_STYLES = (  # per channel state: distinct marker, fill and line, the largest marker drawn first
    {"marker": "o", "markersize": 6, "markerfacecolor": "none", "linestyle": "-"},
    {"marker": "s", "markersize": 3.5, "linestyle": "--"},
    {"marker": "^", "markersize": 4, "markerfacecolor": "none", "linestyle": ":"},
)


def _outward_offsets(axes, x, y, distance_pt: float = 11.0) -> list[tuple[float, float]]:
    """For each point of a falling curve, an offset in points along its normal, away from the origin side
    (up and right), so that a label there sits clear of the curve."""
    display = axes.transData.transform(np.column_stack([x, y]))
    offsets = []
    for i in range(len(display)):
        before, after = display[max(0, i - 1)], display[min(len(display) - 1, i + 1)]
        tangent = after - before
        normal = np.array([tangent[1], -tangent[0]]) if np.any(tangent) else np.array([1.0, 1.0])
        if normal.sum() < 0:
            normal = -normal
        normal = normal / np.linalg.norm(normal)
        offsets.append((distance_pt * normal[0], distance_pt * normal[1]))
    return offsets


def _widen_to_hold(axes, texts, pad_px: float = 4.0) -> None:
    """Move the axes' right and top limits out until every text lies inside the axes."""
    figure = axes.figure
    figure.canvas.draw()
    box = axes.get_window_extent()
    right = max(t.get_window_extent().x1 for t in texts) + pad_px - box.x1
    top = max(t.get_window_extent().y1 for t in texts) + pad_px - box.y1
    inverse = axes.transData.inverted()
    if right > 0:
        axes.set_xlim(right=inverse.transform((box.x1 + right, box.y0))[0])
    if top > 0:
        axes.set_ylim(top=inverse.transform((box.x0, box.y1 + top))[1])


def plot_pareto(points: dict[str, list[tuple]], path: Path, drops: int) -> FigureFiles:
    """CARD's delay-energy trade-off: per channel state, (w, energy mean, (low, high), delay mean, (low, high))
    for each w, with 95 % intervals on both axes. States that coincide stay visible (hollow large marker
    under a small filled one, their own line styles); each w is labelled once, outside the outermost curve."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 3.0)
        curves = []
        for index, (state, rows) in enumerate(points.items()):
            rows = sorted(rows)
            x, y = [r[1] for r in rows], [r[3] for r in rows]
            curves.append((rows, x, y))
            axes.errorbar(x, y, xerr=[[r[1] - r[2][0] for r in rows], [r[2][1] - r[1] for r in rows]],
                          yerr=[[r[3] - r[4][0] for r in rows], [r[4][1] - r[3] for r in rows]],
                          capsize=1.5, elinewidth=0.6, linewidth=1.0, zorder=2 + index,
                          label=f"{state} channel", **PARETO_STYLES[index % len(PARETO_STYLES)])
        linear_unless_decades(axes, [v for _, x, _ in curves for v in x], axis="x")
        linear_unless_decades(axes, [v for _, _, y in curves for v in y], axis="y")
        axes.margins(x=0.14, y=0.12)  # room inside the axes for the w labels
        axes.set_xlabel("mean server energy per round $E$ (J)")
        axes.set_ylabel("mean delay per round $D$ (s)")
        figure.canvas.draw()  # the scales are final: offsets can be computed in points
        rows, x, y = max(curves, key=lambda curve: sum(curve[2]))  # the outermost curve: the largest delays
        labels = [axes.annotate(f"w = {w:g}", (xi, yi), xytext=offset, textcoords="offset points", fontsize=FONT_PT,
                                ha="left" if offset[0] >= 0 else "right", va="bottom" if offset[1] >= 0 else "top",
                                arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.5, "shrinkA": 0,
                                            "shrinkB": 2})
                  for (w, *_), xi, yi, offset in zip(rows, x, y, _outward_offsets(axes, x, y))]
        _widen_to_hold(axes, labels)
        state_setting(figure, f"CARD, w from 0 to 1: mean of {drops} drops; bars: {CI_NOTE} on both axes")
        legend_below(figure, [axes], columns=3)
        return save(figure, [axes], path, f"CARD: delay against server energy as w goes from 0 to 1, mean over "
                                          f"{drops} drops with 95 % confidence intervals on both axes")


def figures_table(figures: list[FigureFiles]) -> ResultTable:
    """The report's `figures` sheet: each figure's files, printed size and caption line (its setting)."""
    return ResultTable.of("figures", [
        Column("figure", "-", "file name (a PDF and a 300 dpi PNG of each)"),
        Column("width_in", "in", "printed width (IEEE single column 3.5 in, double column 7.16 in)"),
        Column("caption", "-", "what it shows and its setting"),
    ], ((f.png.stem, f.width_in, f.caption) for f in figures))
