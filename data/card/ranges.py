"""CARD scenarios whose cost (12) cannot be normalised, refused before anything is solved.

U = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min) divides by each device-round's delay
and energy range. A range that is empty, to rounding, makes U 0/0: a device exactly as fast as the server
(F_min = F_max) whose transfers do not depend on the cut has one delay at every cut and clock, and layers
without server work have one energy. Such a device is named at its row, with the round and channel state.
"""

from __future__ import annotations

from data.card.channel import links
from data.card.costs import PairCosts, pair_costs
from data.card.inputs import CardInputs
from data.card.profile import Profile
from data.issues import Found, InputIssue
from data.schema import CHANNEL_STATES
from data.workbook import Table

EMPTY_RANGE = 1e-9  # relative to the range's larger end: below this, the range is rounding, not a trade-off


def empty_range_issues(inputs: CardInputs, profile: Profile, tables: dict[str, Table]) -> list[InputIssue]:
    """One issue per device with a device-round (in range, any channel state) whose delay or energy range is
    empty; [] when every range is a trade-off."""
    issues = []
    for device_index, device in enumerate(inputs.device_ids):
        problem = _first_empty_range(inputs, profile, device_index)
        if problem is None:
            continue
        found, expected, speed_column = problem
        row = tables["devices"].rows[device_index]
        cell = row["clock_hz"] if speed_column else row["device"]
        issues.append(InputIssue(inputs.source, "devices", cell.row, cell.column_label if speed_column else None,
                                 Found(f"device {device}: {found}"), expected))
    return issues


def _first_empty_range(inputs: CardInputs, profile: Profile, device_index: int) -> tuple[str, str, bool] | None:
    """(what was found, what was expected, whether the device is as fast as the server) for the device's first
    device-round with an empty range, else None."""
    for state in CHANNEL_STATES:
        state_links = links(inputs, state)
        for round_index in range(int(inputs.parameter("rounds"))):
            if state_links.in_range[device_index, round_index]:
                pair = pair_costs(inputs, profile, state_links, device_index, round_index)
                problem = _empty_range(pair, f"in round {pair.round} ({state} channel)")
                if problem is not None:
                    return problem
    return None


def _empty_range(pair: PairCosts, where: str) -> tuple[str, str, bool] | None:
    as_fast = pair.clock_min_ghz >= pair.clock_max_ghz
    if pair.delay_max - pair.delay_min <= EMPTY_RANGE * abs(pair.delay_max):
        cause = ("it is as fast as the server (clock x cores x flops_per_cycle equal to the server's, so F_min = "
                 "F_max) and its transfers do not depend on the cut" if as_fast else
                 "its computation and transfers do not depend on the cut")
        return (f"{where} its delay is {pair.delay_max:.6g} s at every cut and server clock (D_max - D_min = "
                f"{pair.delay_max - pair.delay_min:.3g} s): {cause}",
                "a device whose delay depends on its cut or the server clock: CARD's cost (12) divides by "
                "D_max - D_min; give the device another speed, or check the layers sheet's output_bits and "
                "adapter_bits", as_fast)
    if pair.energy_max - pair.energy_min <= EMPTY_RANGE * abs(pair.energy_max):
        return (f"{where} the server's energy is {pair.energy_max:.6g} J at every cut and server clock "
                f"(E_max - E_min = {pair.energy_max - pair.energy_min:.3g} J)",
                "a device-round whose server energy depends on its cut or clock: CARD's cost (12) divides by "
                "E_max - E_min; check the layers sheet's forward_flops", as_fast)
    return None
