"""A study's swept quantity as its tables and figures name it: the column is called after the quantity
(`power_dbm`, `w`, `bandwidth_hz`), figures and console lines show it in the unit a reader uses
(`bandwidth_hz = 20 MHz`), and a study without a sweep has no such column at all."""

from __future__ import annotations

from dataclasses import dataclass

from data.drops import sweep_field
from reports.display_units import SCALE, display_unit

SWEEP_COLUMN = "sweep_value"  # the study's rows hold the swept value under this name until they are published
POINT, WHOLE_SWEEP = "sweep point", "whole sweep"  # the `scope` of a reductions row
KNOWN = {  # name: (unit, description, axis label of the figures, symbol in a setting line)
    "power_dbm": ("dBm", "every user's maximum transmit power on both links", None, "$p^{max}$"),
    "users": ("-", "users K per drop", "users $K$", "K"),
    "w": ("-", "weight w of the delay in CARD's cost", "weight $w$ of the delay", "w"),
}


@dataclass(frozen=True)
class SweepAxis:
    name: str  # the swept quantity, also its column's name
    unit: str  # its SI unit, as the CSVs hold it
    description: str
    shown_unit: str  # the unit of figures and console lines (MHz for a bandwidth in Hz)
    x_label: str | None = None  # a figure's axis label (None: the figure's own, e.g. Fig. 2's power)
    symbol: str = ""

    @property
    def scale(self) -> float:
        """The factor from the CSV's unit to the shown unit."""
        return SCALE.get((self.unit, self.shown_unit), 1.0)

    def shown(self, value) -> float:
        return float(value) * self.scale

    def label(self, value) -> str:
        """`w = 0.2`, `$p^{max}$ = 10 dBm`, `bandwidth_hz = 20 MHz`."""
        unit = "" if self.shown_unit in ("-", "") else f" {self.shown_unit}"
        return f"{self.symbol} = {self.shown(value):g}{unit}"

    def label_text(self, value) -> str:
        """The label without math text, for console lines and file captions."""
        return self.label(value).replace("$p^{max}$", "p_max")


def sweep_axis(model: str, name: str | None) -> SweepAxis | None:
    """The axis of `sweep.name` (None: no sweep)."""
    if name is None:
        return None
    if name in KNOWN:
        unit, description, x_label, symbol = KNOWN[name]
        return SweepAxis(name, unit, description, unit, x_label, symbol)
    field = sweep_field(model, name)
    unit = field.unit if field is not None else "-"
    shown = display_unit(name, unit)
    label = f"{name.replace('_', ' ')}" + ("" if shown in ("-", "") else f" ({shown})")
    return SweepAxis(name, unit, field.description if field is not None else name, shown, label, name)


def named_sweep(frame, axis: SweepAxis | None):
    """The frame with its sweep column named after the swept quantity, or without it when nothing is swept."""
    if SWEEP_COLUMN not in frame:
        return frame
    if axis is None:
        return frame.drop(columns=[SWEEP_COLUMN])
    name = axis.name if axis.name not in frame else f"sweep_{axis.name}"  # never two columns of one name
    return frame.rename(columns={SWEEP_COLUMN: name})
