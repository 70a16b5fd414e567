"""Problem (17)'s data as plain arrays in SI units (`SplitScenario`), and the rate (11).

What every numpy path of FedsLLM reads: the structured engine, the global search over eta, the
baselines, the certificate and the studies' tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data.fedsllm.inputs import FedsllmInputs, lemma_constants


LN2 = math.log(2.0)


@dataclass(frozen=True)
class SplitScenario:
    """Problem (17)'s data in SI units (Hz, s, bit, cycles), one array entry per user."""

    a: float
    v: float
    compute_cycles: np.ndarray  # E_k = v C_k D_k
    client_cpu_hz: np.ndarray
    server_cpu_hz: float
    client_share: float  # A
    smashed_bits: float  # s
    upload_bits: float  # s_c
    power_to_noise_main_hz: np.ndarray  # c_s = g p / N0
    power_to_noise_fed_hz: np.ndarray  # c_c
    bandwidth_main_hz: float  # B_s
    bandwidth_fed_hz: float  # B_c

    @classmethod
    def from_inputs(cls, inputs: FedsllmInputs, client_share: float | None = None) -> "SplitScenario":
        p = inputs.parameters
        a, v = lemma_constants(p)
        return cls(a, v, v * inputs.column("cycles_per_sample") * inputs.column("samples"),
                   np.asarray(inputs.column("cpu_max_hz"), float), float(p["server_cpu_max_hz"]),
                   float(p["client_share_min"] if client_share is None else client_share),
                   float(p["smashed_bits"]), float(p["model_upload_bits"]),
                   np.asarray(inputs.power_to_noise_hz("main"), float), np.asarray(inputs.power_to_noise_hz("fed"), float),
                   float(p["bandwidth_main_hz"]), float(p["bandwidth_fed_hz"]))

    @property
    def user_count(self) -> int:
        return len(self.compute_cycles)

    def rounds(self, eta: float) -> float:
        """(8) I0 = a / (1 - eta)."""
        return self.a / (1.0 - eta)

    def local_iterations(self, eta: float) -> float:
        """Lemma 2: n = v log2(1/eta)."""
        return self.v * math.log2(1.0 / eta)

    def compute_time_s(self, eta: float, client_share: float | None = None) -> np.ndarray:
        """(10) tau_k = E_k log2(1/eta) (A/f_k + (1-A)/f_s)."""
        share = self.client_share if client_share is None else client_share
        return self.compute_cycles * math.log2(1.0 / eta) * (share / self.client_cpu_hz
                                                            + (1.0 - share) / self.server_cpu_hz)

    @property
    def min_time_main_s(self) -> np.ndarray:
        """alpha_s = s ln 2 / c_s: the smashed data's upload time with unlimited bandwidth (h(0) = 1)."""
        return self.smashed_bits * LN2 / self.power_to_noise_main_hz

    @property
    def min_time_fed_s(self) -> np.ndarray:
        """alpha_c = s_c ln 2 / c_c: the client model's upload time with unlimited bandwidth."""
        return self.upload_bits * LN2 / self.power_to_noise_fed_hz

    def user_delays_s(self, eta: float, time_main_s, time_fed_s) -> np.ndarray:
        """(15) T_k = I0 (tau_k + t_c,k + n t_s,k) at these upload times."""
        return self.rounds(eta) * (self.compute_time_s(eta) + time_fed_s + self.local_iterations(eta) * time_main_s)

    def equal_split_times_s(self) -> tuple[np.ndarray, np.ndarray]:
        """(t_s, t_c) per user with every user on B/K of both links."""
        count = self.user_count
        return (self.smashed_bits / rate_bps(self.bandwidth_main_hz / count, self.power_to_noise_main_hz),
                self.upload_bits / rate_bps(self.bandwidth_fed_hz / count, self.power_to_noise_fed_hz))

    def equal_split_delay_s(self, eta: float) -> float:
        """T with every user on B/K of both links (the paper's EB and BA baselines)."""
        return float(np.max(self.user_delays_s(eta, *self.equal_split_times_s())))


def rate_bps(bandwidth, power_to_noise):
    """(11) b log2(1 + c/b): bit/s from Hz (or Mbit/s from MHz: the formula is scale-free)."""
    return bandwidth * np.log1p(power_to_noise / bandwidth) / LN2
