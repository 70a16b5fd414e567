"""CARD's delay, energy and cost for one device and round, per cut (paper eqs. 7-12).

For device m in round n, cut c and server clock f (here in GHz):
  D(c, f) = T eta_D(c)/(f^D delta^D sigma^D) + T (eta - eta_D(c))/(f delta^S sigma^S)
            + T (phi S(c)/R^D + phi S~(c)/R^S) + A(c)/R^D + A(c)/R^S            (s)
  E(c, f) = T xi f^2 (eta - eta_D(c)) / (delta^S sigma^S)                    (J)
  U(c, f) = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min)
with D_max, E_min at (c = I, f = F_min) and D_min, E_max at (c = 0, f = F_max),
F_min = f^D delta^D sigma^D / (delta^S sigma^S). `server_work` holds
T (eta - eta_D(c)) / (delta^S sigma^S) in s*GHz (the server time at 1 GHz), and
`power_coefficient` xi in W/GHz^3, so E = power_coefficient f^2 server_work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.card import CardInputs
from data.card_channel import Links
from data.card_profile import Profile


@dataclass(frozen=True)
class PairCosts:
    device: str
    round: int  # 1..N
    device_compute_s: np.ndarray  # per cut
    server_work: np.ndarray  # per cut (s*GHz)
    transfer_s: np.ndarray  # per cut: D^V
    power_coefficient: float  # xi in W/GHz^3
    xi: float  # W/(cycle/s)^3, as in the workbook
    clock_min_ghz: float  # F_min^{m,S}
    clock_max_ghz: float  # F_max^S
    w: float

    @property
    def cuts(self) -> np.ndarray:
        return np.arange(len(self.server_work))

    @property
    def last_cut(self) -> int:
        return len(self.server_work) - 1

    def delay(self, cut, clock_ghz):
        return self.device_compute_s[cut] + self.server_work[cut] / clock_ghz + self.transfer_s[cut]

    def energy(self, cut, clock_ghz):
        return self.power_coefficient * clock_ghz**2 * self.server_work[cut]

    @property
    def delay_min(self) -> float:
        return float(self.delay(0, self.clock_max_ghz))

    @property
    def delay_max(self) -> float:
        return float(self.delay(self.last_cut, self.clock_min_ghz))

    @property
    def energy_min(self) -> float:
        return float(self.energy(self.last_cut, self.clock_min_ghz))

    @property
    def energy_max(self) -> float:
        return float(self.energy(0, self.clock_max_ghz))

    def cost(self, cut, clock_ghz):
        return (self.w * (self.delay(cut, clock_ghz) - self.delay_min) / (self.delay_max - self.delay_min)
                + (1 - self.w) * (self.energy(cut, clock_ghz) - self.energy_min) / (self.energy_max - self.energy_min))


def server_capacity(inputs: CardInputs) -> float:
    """delta^S sigma^S: FLOPs per server cycle."""
    return inputs.server["flops_per_cycle"] * inputs.server["cores"]


def pair_costs(inputs: CardInputs, profile: Profile, links: Links, device_index: int, round_index: int) -> PairCosts:
    """Cost ingredients of one device (0-based index) and round (0-based index); the link must be in range."""
    p, devices = inputs.parameters, inputs.devices
    epochs = p["local_epochs"]
    device_flops_per_s = devices["clock_hz"][device_index] * devices["cores"][device_index] * \
        devices["flops_per_cycle"][device_index]
    rate_up = links.rate_up_bps[device_index, round_index]
    rate_down = links.rate_down_bps[device_index, round_index]
    transfer = (epochs * p["compression"] * (profile.smashed_bits / rate_up + profile.gradient_bits / rate_down)
                + profile.adapter_bits / rate_up + profile.adapter_bits / rate_down)
    return PairCosts(
        device=inputs.device_ids[device_index],
        round=round_index + 1,
        device_compute_s=epochs * profile.flops_device / device_flops_per_s,
        server_work=epochs * (profile.flops_total - profile.flops_device) / server_capacity(inputs) / 1e9,
        transfer_s=transfer,
        power_coefficient=p["xi"] * 1e27,
        xi=p["xi"],
        clock_min_ghz=device_flops_per_s / server_capacity(inputs) / 1e9,
        clock_max_ghz=inputs.server["clock_max_hz"] / 1e9,
        w=p["w"],
    )
