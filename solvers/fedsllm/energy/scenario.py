"""FedsLLM energy in numpy (docs/fedsllm.md, "Energy"): what an allocation costs, and its feasibility.

Per global round and client k, with L = log2(1/eta), n = v L and I0 = a/(1-eta) rounds:
- client computation  kappa A E_k L f_k^2         (A E_k L cycles at kappa f_k^2 J each)
- server computation  kappa_s (1 - A) E_k L f_s^2 (one server clock f_s for every client)
- upload to the main server  n p_s,k t_s,k;  to the fed server  p_c,k t_c,k
and the energy of a training is I0 times their sum. Every quantity here is in SI units (J, Hz, W, s);
the Pyomo model of Problem (E) (models/fedsllm_energy.py) states the same formulas and the certificate
recomputes its optimum with these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from solvers.fedsllm.engines import Allocation
from solvers.fedsllm.scenario import SplitScenario, rate_bps

PARTS = ("client", "server", "main", "fed")  # the four parts, in the order of the report's columns
PART_MEANINGS = {"client": "client computation", "server": "server computation for this user",
                 "main": "uploads of smashed data to the main server", "fed": "uploads of the client model to "
                                                                           "the fed server"}


@dataclass(frozen=True)
class EnergyScenario:
    """Problem (E)'s data: the delay model's (`split`) and the energy coefficients, powers and gains."""

    split: SplitScenario
    kappa: float  # J per cycle per Hz^2 (client)
    server_kappa: float  # kappa_s
    power_main_max_w: np.ndarray
    power_fed_max_w: np.ndarray
    gain_to_noise_main_per_w: np.ndarray  # g_s / N0 (Hz/W)
    gain_to_noise_fed_per_w: np.ndarray

    @classmethod
    def from_inputs(cls, inputs: FedsllmInputs) -> "EnergyScenario":
        return cls(SplitScenario.from_inputs(inputs), inputs.parameter("kappa"), inputs.parameter("server_kappa"),
                   np.asarray(inputs.power_max_w("main"), float), np.asarray(inputs.power_max_w("fed"), float),
                   np.asarray(inputs.gain_to_noise_hz_per_w("main"), float),
                   np.asarray(inputs.gain_to_noise_hz_per_w("fed"), float))

    @property
    def users(self) -> int:
        return self.split.user_count

    def work_cycles(self, eta: float) -> np.ndarray:
        """E_k log2(1/eta): each user's cycles per round, client and server together."""
        return self.split.compute_cycles * math.log2(1.0 / eta)


@dataclass(frozen=True)
class EnergyParts:
    """One allocation's energy per training (J), per user and part."""

    client_j: np.ndarray
    server_j: np.ndarray
    main_j: np.ndarray
    fed_j: np.ndarray

    @property
    def per_user_j(self) -> np.ndarray:
        return self.client_j + self.server_j + self.main_j + self.fed_j

    @property
    def total_j(self) -> float:
        return float(self.per_user_j.sum())

    def part_total_j(self, part: str) -> float:
        return float(getattr(self, f"{part}_j").sum())


def energy_parts(scenario: EnergyScenario, eta: float, client_cpu_hz, server_cpu_hz: float, time_main_s,
                 time_fed_s, power_main_w, power_fed_w, client_share: float | None = None) -> EnergyParts:
    """The energy of a training at these clocks, upload times and powers (module docstring)."""
    split = scenario.split
    share = split.client_share if client_share is None else client_share
    rounds, work = split.rounds(eta), scenario.work_cycles(eta)
    n = split.local_iterations(eta)
    return EnergyParts(rounds * scenario.kappa * share * work * np.asarray(client_cpu_hz, float) ** 2,
                       rounds * scenario.server_kappa * (1.0 - share) * work * float(server_cpu_hz) ** 2,
                       rounds * n * np.asarray(power_main_w, float) * np.asarray(time_main_s, float),
                       rounds * np.asarray(power_fed_w, float) * np.asarray(time_fed_s, float))


def energy_at_maxima(scenario: EnergyScenario, eta: float, time_main_s, time_fed_s,
                     client_share: float | None = None) -> EnergyParts:
    """The energy of a delay-problem allocation: clocks f_k^max, f_s^max and powers p^max (Section III-E)."""
    split = scenario.split
    return energy_parts(scenario, eta, split.client_cpu_hz, split.server_cpu_hz, time_main_s, time_fed_s,
                        scenario.power_main_max_w, scenario.power_fed_max_w, client_share)


def upload_power_w(bits: float, time_s, bandwidth_hz, gain_to_noise_per_w) -> np.ndarray:
    """The least power that carries `bits` in `time_s` over `bandwidth_hz`: (16b)/(16c) tight,
    p = N0 b / g (2^(S/(t b)) - 1)."""
    bandwidth_hz = np.asarray(bandwidth_hz, float)
    efficiency = bits / (np.asarray(time_s, float) * bandwidth_hz)
    return bandwidth_hz / np.asarray(gain_to_noise_per_w, float) * np.expm1(math.log(2.0) * efficiency)


@dataclass(frozen=True)
class EnergyAllocation:
    """A solution of Problem (E) at one eta (SI units), with its energy."""

    eta: float
    max_delay_s: float
    client_cpu_hz: np.ndarray
    server_cpu_hz: float
    time_main_s: np.ndarray
    time_fed_s: np.ndarray
    bandwidth_main_hz: np.ndarray
    bandwidth_fed_hz: np.ndarray
    power_main_w: np.ndarray
    power_fed_w: np.ndarray
    parts: EnergyParts

    @property
    def energy_j(self) -> float:
        return self.parts.total_j


def allocation_with_energy(scenario: EnergyScenario, eta: float, max_delay_s: float, client_cpu_hz,
                           server_cpu_hz: float, time_main_s, time_fed_s, bandwidth_main_hz,
                           bandwidth_fed_hz) -> EnergyAllocation:
    """An EnergyAllocation from clocks, times and bandwidths: the powers are the least that carry the data
    (upload_power_w), the energy from energy_parts."""
    power_main = upload_power_w(scenario.split.smashed_bits, time_main_s, bandwidth_main_hz,
                                scenario.gain_to_noise_main_per_w)
    power_fed = upload_power_w(scenario.split.upload_bits, time_fed_s, bandwidth_fed_hz,
                               scenario.gain_to_noise_fed_per_w)
    parts = energy_parts(scenario, eta, client_cpu_hz, server_cpu_hz, time_main_s, time_fed_s, power_main, power_fed)
    return EnergyAllocation(eta, max_delay_s, np.asarray(client_cpu_hz, float), float(server_cpu_hz),
                            np.asarray(time_main_s, float), np.asarray(time_fed_s, float),
                            np.asarray(bandwidth_main_hz, float), np.asarray(bandwidth_fed_hz, float),
                            power_main, power_fed, parts)


def user_delays_s(scenario: EnergyScenario, allocation: EnergyAllocation) -> np.ndarray:
    """(15) T_k at the allocation's own clocks (the delay model's T_k with f_k, f_s free)."""
    split, eta = scenario.split, allocation.eta
    share = split.client_share
    compute = scenario.work_cycles(eta) * (share / allocation.client_cpu_hz + (1.0 - share) / allocation.server_cpu_hz)
    return split.rounds(eta) * (compute + allocation.time_fed_s + split.local_iterations(eta) * allocation.time_main_s)


def rates_bps(scenario: EnergyScenario, allocation: EnergyAllocation) -> tuple[np.ndarray, np.ndarray]:
    """(11) at the allocation's powers: r = b log2(1 + g p / (N0 b)), both links."""
    return (rate_bps(allocation.bandwidth_main_hz, scenario.gain_to_noise_main_per_w * allocation.power_main_w),
            rate_bps(allocation.bandwidth_fed_hz, scenario.gain_to_noise_fed_per_w * allocation.power_fed_w))


# --- The delay run's allocations (clocks and powers at their maxima) ----------------------------------

def _model_clocks_and_powers(model, scenario: EnergyScenario):
    """A, f_k (Hz), f_s (Hz) and the powers (W) a delay model holds: Params at their maxima in (17),
    decisions in (16)."""
    def per_user(component, scale: float) -> np.ndarray:
        return np.array([pyo.value(component[k]) * scale for k in model.users])

    share = float(pyo.value(model.client_share))
    client = per_user(model.client_cpu, 1e9)
    server = float(pyo.value(model.server_cpu)) * 1e9
    if hasattr(model, "power_main"):  # Problem (16): the powers are decisions (mW)
        return share, client, server, per_user(model.power_main, 1e-3), per_user(model.power_fed, 1e-3)
    return share, client, server, scenario.power_main_max_w, scenario.power_fed_max_w


def optimum_energy(inputs: FedsllmInputs, optimum, model=None) -> EnergyParts:
    """The energy of the delay run's reported optimum (an OptimumAllocation): at the clocks, powers and A
    the model holds ((16)'s decisions when the optimum is (16)'s), at their maxima without a model."""
    scenario = EnergyScenario.from_inputs(inputs)
    if model is None:
        return energy_at_maxima(scenario, optimum.eta, optimum.time_main_s, optimum.time_fed_s)
    share, client, server, power_main, power_fed = _model_clocks_and_powers(model, scenario)
    return energy_parts(scenario, optimum.eta, client, server, optimum.time_main_s, optimum.time_fed_s,
                        power_main, power_fed, share)


def strategy_delay_optima(inputs: FedsllmInputs, comparison) -> dict:
    """Each strategy's delay-optimal allocation (`comparison`: the baselines' Comparison) as an Allocation
    (MHz, s): Proposed and FE from the eta search, EB and BA the equal split at their eta."""
    split = EnergyScenario.from_inputs(inputs).split
    count = split.user_count
    main, fed = split.equal_split_times_s()
    equal = (np.full(count, split.bandwidth_main_hz / count / 1e6), np.full(count, split.bandwidth_fed_hz / count / 1e6),
             main, fed)
    results = comparison.results
    return {"Proposed": comparison.search.best, "EB": Allocation(results["EB"].eta, results["EB"].T, *equal),
            "FE": comparison.search.kept[results["FE"].eta], "BA": Allocation(results["BA"].eta, results["BA"].T, *equal)}


def strategy_energies(inputs: FedsllmInputs, comparison) -> dict[str, EnergyParts]:
    """The energy of each strategy's delay-optimal allocation, clocks and powers at their maxima."""
    scenario = EnergyScenario.from_inputs(inputs)
    return {name: energy_at_maxima(scenario, optimum.eta, optimum.time_main_s, optimum.time_fed_s)
            for name, optimum in strategy_delay_optima(inputs, comparison).items()}
