"""The reports' figures, one function each, in the shared paper style (reports/style.py): IEEE column
width, 8 pt text, vector PDF plus 300 dpi PNG, math text, linear axes unless the data span more than a
decade, integer ticks for rounds and dBm, legends outside the data. Each returns its FigureFiles, whose
caption line (the figure's setting) the report lists in its `figures` table."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import MultipleLocator

from reports.export import Column, ResultTable

from reports.style import (
    DOUBLE_COLUMN_IN,
    FONT_PT,
    MARKERS,
    SINGLE_COLUMN_IN,
    STRATEGY_LABELS,
    FigureFiles,
    integer_ticks,
    legend_below,
    linear_unless_decades,
    literal_text,
    new_figure,
    paper_style,
    save,
)


def plot_eta_sweep(etas, delays, best_eta: float, best_delay: float, path: Path, envelope=(),
                   users: int | None = None) -> FigureFiles:
    """T*(eta) over the grid and refinement, with the optimum marked; `envelope`: the global search's
    intervals (`low`, `high`, `lower_bound`), drawn as the lower bound it proved on each."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 2.8)
        axes.plot(etas, delays, "-", color="tab:blue", label="$T^*(\\eta)$, Problem (17)")
        shown = [i for i in envelope if i.lower_bound <= 10 * max(delays) and i.high > i.low]
        if shown:
            axes.hlines([i.lower_bound for i in shown], [i.low for i in shown], [i.high for i in shown],
                        colors="tab:green", linewidth=0.8, label="proven lower bound on each $\\eta$ interval")
        axes.plot([best_eta], [best_delay], "*", color="tab:red", markersize=8,
                  label=f"optimum $\\eta^*$ = {best_eta:.4f}, $T^*$ = {best_delay:.4g} s")
        linear_unless_decades(axes, delays)
        axes.set_xlabel("local accuracy $\\eta$")
        axes.set_ylabel("total training delay $T$ (s)")
        legend_below(figure, [axes], columns=1)
        setting = f"K = {users} users, " if users else ""
        return save(figure, [axes], path, f"FedsLLM: optimal delay T*(eta) over eta, {setting}Problem (17); "
                                          f"optimum eta* = {best_eta:.4f}, T* = {best_delay:.4g} s",
                    legend_rows=3 if shown else 2)


def plot_fig2(powers, delays_by_strategy: dict[str, list[float]], path: Path, users: int | None = None,
              bands: dict[str, tuple[list[float], list[float]]] | None = None, x_label: str | None = None,
              caption: str | None = None) -> FigureFiles:
    """Latency against maximum transmit power, one line per strategy (the paper's Fig. 2); `bands`: a 95 %
    confidence interval per strategy (Monte Carlo studies)."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 3.0)
        values = []
        for index, (strategy, delays) in enumerate(delays_by_strategy.items()):
            line, = axes.plot(powers, delays, marker=MARKERS[index % len(MARKERS)],
                              label=STRATEGY_LABELS.get(strategy, strategy))
            values += list(delays)
            if bands and strategy in bands:
                low, high = bands[strategy]
                axes.fill_between(powers, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
                values += list(low) + list(high)
        linear_unless_decades(axes, values)
        if x_label is None:
            integer_ticks(axes)
            steps = sorted({round(b - a, 9) for a, b in zip(powers, powers[1:])})
            if len(steps) == 1 and float(steps[0]).is_integer():
                axes.xaxis.set_major_locator(MultipleLocator(max(1, int(steps[0]) * (1 if len(powers) <= 8 else 2))))
        axes.set_xlabel(x_label or "maximum transmit power $p^{max}$ (dBm)")
        axes.set_ylabel("total training delay $T$ (s)")
        legend_below(figure, [axes], columns=1)
        setting = f"K = {users} users" if users else "the workbook's users"
        text = caption or f"FedsLLM Fig. 2: delay against maximum transmit power, {setting}"
        if bands:
            text += "; shaded: 95 % confidence interval (Student t) over the drops"
        return save(figure, [axes], path, text, legend_rows=len(delays_by_strategy) + 1)


def plot_fig3(result, path: Path, w: float | None = None) -> FigureFiles:
    """Cut layer and server clock per round, a small panel per device (the paper's Fig. 3): devices often
    share a cut (0 or I), and their own panel keeps them apart."""
    devices = list(dict.fromkeys(d.device for d in result.card))
    last_cut = max((pair.last_cut for pair in result.pairs), default=1)
    with paper_style():
        figure, axes_pair = new_figure(DOUBLE_COLUMN_IN, 2.8, columns=2)
        cut_axes, clock_axes = axes_pair
        for index, device in enumerate(devices):
            mine = [d for d in result.card if d.device == device]
            rounds = [d.round for d in mine]
            marker = MARKERS[index % len(MARKERS)]
            # devices on the same cut are drawn a little apart (0.6 % of I per device), with their own marker
            offset = (index - (len(devices) - 1) / 2) * 0.012 * last_cut
            label = f"device {literal_text(device)}"
            cut_axes.plot(rounds, [d.cut + offset for d in mine], marker=marker, label=label)
            clock_axes.plot(rounds, [d.clock_ghz for d in mine], marker=marker, label=label)
        cut_axes.set_yticks(sorted({0, last_cut, *{d.cut for d in result.card}}))
        for axes in axes_pair:
            integer_ticks(axes)
            axes.set_xlabel("training round $n$")
        cut_axes.set_ylabel("cut layer $c$")
        cut_axes.set_title(f"(a) optimal cut, {result.state} channel")
        clock_axes.set_ylabel("server GPU clock $f$ (GHz)")
        clock_axes.set_title(f"(b) server clock, {result.state} channel")
        legend_below(figure, axes_pair, columns=min(len(devices), 6))
        weight = f", w = {w:g}" if w is not None else ""
        return save(figure, axes_pair, path, f"CARD Fig. 3: each device's cut and server clock per round, "
                                             f"{result.state} channel{weight}; devices on one cut are drawn "
                                             f"slightly apart", legend_rows=1)


def plot_fig4(benchmarks, path: Path, w: float | None = None,
              errors: dict | None = None) -> FigureFiles:
    """Grouped bars: mean delay and server energy per round by method and channel state (the paper's
    Fig. 4). `benchmarks` maps (state, method) to (delay_s, energy_j); `errors` the same to ((low, high),
    (low, high)) 95 % intervals (Monte Carlo)."""
    states = list(dict.fromkeys(state for state, _ in benchmarks))
    methods = list(dict.fromkeys(method for _, method in benchmarks))
    with paper_style():
        figure, axes_pair = new_figure(DOUBLE_COLUMN_IN, 2.8, columns=2)
        width = 0.8 / len(methods)
        for column, (axes, label) in enumerate(zip(axes_pair, ("mean delay per round $D$ (s)",
                                                               "mean server energy per round $E$ (J)"))):
            values = []
            for index, method in enumerate(methods):
                heights = [benchmarks[state, method][column] for state in states]
                values += heights
                yerr = None
                if errors:
                    yerr = [[h - errors[s, method][column][0] for s, h in zip(states, heights)],
                            [errors[s, method][column][1] - h for s, h in zip(states, heights)]]
                bars = axes.bar([x + index * width for x in range(len(states))], heights, width,
                                label=STRATEGY_LABELS.get(method, method), yerr=yerr, capsize=2)
                # each bar's value on it: on a log axis a short bar is otherwise hard to read
                axes.bar_label(bars, labels=[f"{h:,.0f}" if h >= 100 else f"{h:.3g}" for h in heights], fontsize=FONT_PT,
                               rotation=90, padding=2)
            axes.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(states))], states)
            axes.set_xlabel("channel state")
            axes.set_ylabel(label)
            linear_unless_decades(axes, values)
            top = max(v for v in values if v == v)  # room above the tallest bar for its label
            axes.set_ylim(top=top * (8 if axes.get_yscale() == "log" else 1.3))
        legend_below(figure, axes_pair, columns=len(methods))
        weight = f"w = {w:g}, " if w is not None else ""
        text = (f"CARD Fig. 4: {weight}mean per device-round over the device-rounds in range, by method and "
                f"channel state")
        if errors:
            text += "; error bars: 95 % confidence interval over the drops"
        return save(figure, axes_pair, path, text, legend_rows=1)


def plot_pareto(points: dict[str, list[tuple]], path: Path, drops: int) -> FigureFiles:
    """CARD's delay-energy trade-off: per channel state, (w, energy mean, (low, high), delay mean, (low, high))
    for each w, with 95 % intervals on both axes."""
    with paper_style():
        figure, (axes,) = new_figure(SINGLE_COLUMN_IN, 3.0)
        for index, (state, rows) in enumerate(points.items()):
            rows = sorted(rows)
            x = [r[1] for r in rows]
            y = [r[3] for r in rows]
            axes.errorbar(x, y, xerr=[[r[1] - r[2][0] for r in rows], [r[2][1] - r[1] for r in rows]],
                          yerr=[[r[3] - r[4][0] for r in rows], [r[4][1] - r[3] for r in rows]],
                          marker=MARKERS[index % len(MARKERS)], capsize=1.5, label=f"{state} channel")
            if index == 0:
                for w, xi, yi in zip([r[0] for r in rows], x, y):
                    axes.annotate(f"w={w:g}", (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=8)
        axes.set_xlabel("mean server energy per round $E$ (J)")
        axes.set_ylabel("mean delay per round $D$ (s)")
        legend_below(figure, [axes], columns=3)
        return save(figure, [axes], path, f"CARD: delay against server energy as w goes from 0 to 1, mean over "
                                          f"{drops} drops with 95 % confidence intervals on both axes",
                    legend_rows=1)


def figures_table(figures: list[FigureFiles]) -> ResultTable:
    """The report's `figures` sheet: each figure's files, printed size and caption line (its setting)."""
    return ResultTable.of("figures", [
        Column("figure", "-", "file name (a PDF and a 300 dpi PNG of each)"),
        Column("width_in", "in", "printed width (IEEE single column 3.5 in, double column 7.16 in)"),
        Column("caption", "-", "what it shows and its setting"),
    ], ((f.png.stem, f.width_in, f.caption) for f in figures))
