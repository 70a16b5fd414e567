"""CARD's delay, energy and cost (paper eqs. 7-12; docs/card.md), written once.

The equation functions below are plain arithmetic, so the same definition
serves Algorithm 1's vectorised evaluator (numpy arrays over the cuts, through
`PairCosts`) and the Pyomo expressions of P1-P4 (`models/card.py` calls them
with Params and Vars). For device m in round n, cut c and server clock f (GHz):

  (7)  d^D  = eta_D(c) / (f^D delta^D sigma^D)                  per epoch (s)
  (8)  d^S  = (eta - eta_D(c)) / (f delta^S sigma^S)            per epoch (s)
  (9)  D^V  = T (phi S(c)/R^D + phi S~(c)/R^S) + A(c)/R^D + A(c)/R^S   (s),
       with R = B y(SNR) (data/card/channel.py, `eq9_rate_bps`)
  (10) D    = T (d^D + d^S) + D^V                               per round (s)
  (11) E    = T xi f^2 (eta - eta_D(c)) / (delta^S sigma^S)     per round (J)
  (12) U    = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min)

Per round the model keeps three data terms per cut: `device_compute_s` = T d^D
(7), `server_work` = T (eta - eta_D(c)) / (delta^S sigma^S) in s*GHz (the server
time of (8) at 1 GHz, times T), and `transfer_s` = D^V (9); with
`power_coefficient` = xi in W/GHz^3, E = power_coefficient f^2 server_work.
D_max, E_min are at (c = I, f = F_min), D_min, E_max at (c = 0, f = F_max), and
F_min = f^D delta^D sigma^D / (delta^S sigma^S).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.card.inputs import CardInputs
from data.card.channel import Links
from data.card.profile import Profile


# --- The equations (numpy or Pyomo operands alike) -----------------------------------------

def eq7_device_compute_s(epochs, flops_device, device_flops_per_s):
    """(7) times T: the device's computation per round, T eta_D(c) / (f^D delta^D sigma^D) (s)."""
    return epochs * flops_device / device_flops_per_s


def eq8_server_work(epochs, flops_total, flops_device, server_flops_per_cycle):
    """(8) times T, at 1 GHz: T (eta - eta_D(c)) / (delta^S sigma^S) (gigacycles = s*GHz)."""
    return epochs * (flops_total - flops_device) / server_flops_per_cycle / 1e9


def eq8_server_compute_s(server_work, clock_ghz):
    """(8) times T: the server's computation per round at clock f, server_work / f (s)."""
    return server_work / clock_ghz


def eq9_transfer_s(epochs, compression, smashed_bits, gradient_bits, adapter_bits, rate_up_bps, rate_down_bps):
    """(9) D^V = T (phi S(c)/R^D + phi S~(c)/R^S) + A(c)/R^D + A(c)/R^S (s)."""
    return (epochs * compression * (smashed_bits / rate_up_bps + gradient_bits / rate_down_bps)
            + adapter_bits / rate_up_bps + adapter_bits / rate_down_bps)


def eq10_delay_s(device_compute_s, server_compute_s, transfer_s):
    """(10) D = T (d^D + d^S) + D^V: the round's training delay (s)."""
    return device_compute_s + server_compute_s + transfer_s


def eq11_energy_j(power_coefficient, clock_ghz, server_work):
    """(11) E = T xi f^2 (eta - eta_D(c)) / (delta^S sigma^S): the server's energy per round (J)."""
    return power_coefficient * clock_ghz**2 * server_work


def eq12_cost(w, delay_s, energy_j, delay_min, delay_max, energy_min, energy_max):
    """(12) U = w (D - D_min)/(D_max - D_min) + (1 - w)(E - E_min)/(E_max - E_min) (-)."""
    return w * (delay_s - delay_min) / (delay_max - delay_min) + (1 - w) * (energy_j - energy_min) / (energy_max - energy_min)


# --- One device-round's ingredients ------------------------------------------------------

@dataclass(frozen=True)
class PairCosts:
    """The data of eqs. 7-12 for one device and round, per cut; Algorithm 1 evaluates U from it."""

    device: str
    round: int  # 1..N
    device_compute_s: np.ndarray  # per cut: (7) x T
    server_work: np.ndarray  # per cut: (8) x T at 1 GHz (s*GHz)
    transfer_s: np.ndarray  # per cut: D^V (9)
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
        """(10) at this cut (or array of cuts) and clock (s)."""
        return eq10_delay_s(self.device_compute_s[cut], eq8_server_compute_s(self.server_work[cut], clock_ghz),
                            self.transfer_s[cut])

    def energy(self, cut, clock_ghz):
        """(11) at this cut and clock (J)."""
        return eq11_energy_j(self.power_coefficient, clock_ghz, self.server_work[cut])

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
        """(12) at this cut and clock (-)."""
        return eq12_cost(self.w, self.delay(cut, clock_ghz), self.energy(cut, clock_ghz),
                         self.delay_min, self.delay_max, self.energy_min, self.energy_max)


def server_flops_per_cycle(inputs: CardInputs) -> float:
    """delta^S sigma^S: FLOPs per server cycle."""
    return inputs.server["flops_per_cycle"] * inputs.server["cores"]


def pair_costs(inputs: CardInputs, profile: Profile, links: Links, device_index: int, round_index: int) -> PairCosts:
    """Cost ingredients of one device (0-based index) and round (0-based index); the link must be in range."""
    p, devices = inputs.parameters, inputs.devices
    epochs = p["local_epochs"]
    device_flops_per_s = devices["clock_hz"][device_index] * devices["cores"][device_index] * \
        devices["flops_per_cycle"][device_index]
    return PairCosts(
        device=inputs.device_ids[device_index],
        round=round_index + 1,
        device_compute_s=eq7_device_compute_s(epochs, profile.flops_device, device_flops_per_s),
        server_work=eq8_server_work(epochs, profile.flops_total, profile.flops_device, server_flops_per_cycle(inputs)),
        transfer_s=eq9_transfer_s(epochs, p["compression"], profile.smashed_bits, profile.gradient_bits,
                                  profile.adapter_bits, links.rate_up_bps[device_index, round_index],
                                  links.rate_down_bps[device_index, round_index]),
        power_coefficient=p["xi"] * 1e27,
        xi=p["xi"],
        clock_min_ghz=device_flops_per_s / server_flops_per_cycle(inputs) / 1e9,
        clock_max_ghz=inputs.server["clock_max_hz"] / 1e9,
        w=p["w"],
    )
