"""Sweep: in which setting does the channel change CARD's cut from round to round?

    ./fedsplit bench card_channel_sweep

With the defaults the cut never changes (the report's fig3_statements): transmission is about 2 % of the
delay. This sweeps bandwidth, the devices' distance (a factor on every distance_m) and the compression
phi over the default workbook, Poor and Normal channels, and prints, per setting, the transmission share
of CARD's delay, how many round-to-round steps change a device's cut, and how many devices ever change.
No default is tuned; the README quotes the settings found.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace


def main(argv: list[str]) -> None:
    from data.card.inputs import load_card
    from data.card.profile import build_profile
    from reports.card import cut_changes, transmission_share
    from solvers.card.state import solve_state

    base = load_card()
    profile = build_profile(base)
    bandwidths = [1e6, 5e6, 20e6, 100e6]
    distance_factors = [0.5, 1.0, 2.0, 4.0]
    compressions = [0.1, 0.5, 1.0]
    print(f"{'state':<7}{'bandwidth_hz':>13}{'distance x':>11}{'phi':>6}{'tx share':>10}{'changes':>9}"
          f"{'of steps':>9}{'devices':>8}{'out of range':>13}")
    for state, bandwidth, factor, phi in itertools.product(("Normal", "Poor"), bandwidths, distance_factors,
                                                           compressions):
        inputs = replace(base.with_parameters(bandwidth_hz=bandwidth, compression=phi),
                         devices={**base.devices, "distance_m": base.devices["distance_m"] * factor})
        result = solve_state(inputs, profile, state)
        if not result.card:
            continue
        changes, steps, moving = cut_changes(result.card)
        share = transmission_share(result)
        print(f"{state:<7}{bandwidth:>13.0e}{factor:>11.1f}{phi:>6.1f}{share:>10.1%}{changes:>9}{steps:>9}"
              f"{moving:>8}{len(result.out_of_range):>13}")


if __name__ == "__main__":
    main(sys.argv[1:])
