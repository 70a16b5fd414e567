"""An independent solution of FedsLLM Problem (17): no Pyomo, no Ipopt.

For fixed eta, with R = (1-eta) T / a the time per global round, user k needs
t_c,k + n t_s,k <= R - tau_k. The least bandwidth that carries rate r over a
link with c = g p / N0 has a closed form through the Lambert W function:

    b log2(1 + c/b) = r  <=>  b = c / (y - 1),  y = -W_{-1}(-rho e^{-rho}) / rho,
    rho = r ln 2 / c < 1.

For a given R the question "do both budgets suffice?" is a convex resource
problem: minimise sum_k F_k(t_k) (main-link bandwidth, t_k = t_s,k) subject to
sum_k G_k(t_k) <= B_c (fed-link bandwidth with t_c,k = R_k - n t_k). Its dual
has one multiplier mu; each user's t_k(mu) solves F_k' + mu G_k' = 0, found by
vectorised bisection. mu comes from a root search on the fed budget and R from
a root search on the main budget. Everything here is written from the spec
formulas, in SI units (Hz, s, bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import lambertw

LN2 = math.log(2.0)
MAX_LOG_MU = 40.0  # the fed-budget multiplier is searched in [e^-40, e^40]


@dataclass(frozen=True)
class Scenario:
    """Problem (17)'s data in SI units; arrays have one entry per user."""

    a: float
    v: float
    compute_cycles: np.ndarray  # E_k = v C_k D_k (cycles)
    client_cpu_hz: np.ndarray
    server_cpu_hz: float
    client_share: float
    smashed_bits: float
    upload_bits: float
    power_to_noise_main_hz: np.ndarray  # g p / N0
    power_to_noise_fed_hz: np.ndarray
    bandwidth_main_hz: float
    bandwidth_fed_hz: float

    def local_iterations(self, eta: float) -> float:
        return self.v * math.log2(1.0 / eta)

    def compute_time_s(self, eta: float) -> np.ndarray:
        return self.compute_cycles * math.log2(1.0 / eta) * (
            self.client_share / self.client_cpu_hz + (1.0 - self.client_share) / self.server_cpu_hz)


def rate(bandwidth_hz, power_to_noise_hz):
    """Shannon rate b log2(1 + c/b) (bit/s)."""
    return bandwidth_hz * np.log2(1.0 + power_to_noise_hz / bandwidth_hz)


def least_bandwidth(rate_bps, power_to_noise_hz):
    """Smallest b with b log2(1 + c/b) >= r (Hz); needs r < c/ln 2.

    Closed form through W_{-1}; near its branch point (rho -> 1, a link run
    close to its capacity limit c/ln 2) the argument -rho e^{-rho} rounds past
    -1/e, so there z = c/b solves log1p(z) = rho z by Newton's method instead."""
    rho = np.asarray(rate_bps, dtype=float) * LN2 / np.asarray(power_to_noise_hz, dtype=float)
    z = -np.real(lambertw(-rho * np.exp(-rho), k=-1)) / rho - 1.0
    near_branch = rho > 0.999
    if np.any(near_branch):
        z = np.where(near_branch, _snr_near_capacity(np.broadcast_to(rho, z.shape)), z)
    with np.errstate(over="ignore", divide="ignore"):  # inf right at a capacity limit
        return power_to_noise_hz / z


def _snr_near_capacity(rho):
    """Root z > 0 of h(z) = log1p(z) - rho z for rho near 1.

    Series start: log1p(z)/z = 1 - z/2 + z^2/3 - ... gives z = 2e + 8e^2/3 + O(e^3)
    with e = 1 - rho; then Newton steps (h' = 1/(1+z) - rho is about -e there)."""
    excess = np.maximum(1.0 - rho, 1e-300)
    z = 2.0 * excess + 8.0 / 3.0 * excess**2
    for _ in range(6):
        z = np.maximum(z - (np.log1p(z) - rho * z) / (1.0 / (1.0 + z) - rho), 0.5 * z)
    return z


def least_bandwidth_slope(rate_bps, power_to_noise_hz):
    """d(least bandwidth)/d(rate) = 1 / (d rate / d b) (Hz per bit/s)."""
    z = power_to_noise_hz / least_bandwidth(rate_bps, power_to_noise_hz)
    return LN2 / (np.log1p(z) - z / (1.0 + z))


@dataclass(frozen=True)
class ReferenceSolution:
    T: float
    round_time: float
    time_main_s: np.ndarray
    time_fed_s: np.ndarray
    bandwidth_main_hz: np.ndarray
    bandwidth_fed_hz: np.ndarray


class _FixedEta:
    """The (17) sub-problems for one eta."""

    def __init__(self, scenario: Scenario, eta: float):
        self.s = scenario
        self.n = scenario.local_iterations(eta)
        self.tau = scenario.compute_time_s(eta)
        # Below these times a link cannot carry its data at any bandwidth.
        self.time_main_min = scenario.smashed_bits * LN2 / scenario.power_to_noise_main_hz
        self.time_fed_min = scenario.upload_bits * LN2 / scenario.power_to_noise_fed_hz

    def main_bandwidth(self, t):
        return least_bandwidth(self.s.smashed_bits / t, self.s.power_to_noise_main_hz)

    def fed_bandwidth(self, t, budget):
        return least_bandwidth(self.s.upload_bits / (budget - self.n * t), self.s.power_to_noise_fed_hz)

    def user_times(self, mu: float, budget: np.ndarray) -> np.ndarray:
        """t_s,k minimising F_k + mu G_k, by bisection on the increasing derivative."""
        s = self.s
        low = self.time_main_min.copy()
        high = (budget - self.time_fed_min) / self.n
        middle = 0.5 * (low + high)
        for _ in range(80):  # 2^-80: far below the 1e-13 the checks need
            t = 0.5 * (low + high)
            fed_time = budget - self.n * t
            with np.errstate(divide="ignore", invalid="ignore"):  # inf at a capacity limit, handled below
                slope = (-s.smashed_bits / t**2 * least_bandwidth_slope(s.smashed_bits / t, s.power_to_noise_main_hz)
                         + mu * s.upload_bits * self.n / fed_time**2
                         * least_bandwidth_slope(s.upload_bits / fed_time, s.power_to_noise_fed_hz))
            # At a link's capacity limit the slope is inf - inf: its sign is that of the nearer end.
            slope = np.where(np.isfinite(slope), slope, np.where(t > middle, 1.0, -1.0))
            low = np.where(slope < 0, t, low)
            high = np.where(slope < 0, high, t)
        return 0.5 * (low + high)

    def main_bandwidth_needed(self, round_time: float) -> tuple[float, np.ndarray]:
        """(least sum of main bandwidth - B_s given the fed budget, the times t_s,k)."""
        budget = round_time - self.tau

        def fed_excess(log_mu: float) -> float:
            t = self.user_times(math.exp(log_mu), budget)
            with np.errstate(divide="ignore", invalid="ignore"):
                excess = float(self.fed_bandwidth(t, budget).sum() - self.s.bandwidth_fed_hz)
            return excess if math.isfinite(excess) else 1e300

        if fed_excess(MAX_LOG_MU) > 0:  # even the most fed-friendly split overruns B_c
            return math.inf, budget * 0
        log_mu = brentq(fed_excess, -MAX_LOG_MU, MAX_LOG_MU, xtol=1e-14, rtol=1e-15, maxiter=500)
        t = self.user_times(math.exp(log_mu), budget)
        return float(self.main_bandwidth(t).sum() - self.s.bandwidth_main_hz), t


def solve_reference(scenario: Scenario, eta: float) -> ReferenceSolution:
    """Problem (17) at `eta`, to about 1e-10 relative in T."""
    problem = _FixedEta(scenario, eta)
    n = problem.n
    # Every user needs at least these round times; the equal split is feasible.
    low = float(np.max(problem.tau + n * problem.time_main_min + problem.time_fed_min))
    count = len(problem.tau)
    equal_main = rate(scenario.bandwidth_main_hz / count, scenario.power_to_noise_main_hz)
    equal_fed = rate(scenario.bandwidth_fed_hz / count, scenario.power_to_noise_fed_hz)
    high = float(np.max(problem.tau + n * scenario.smashed_bits / equal_main + scenario.upload_bits / equal_fed))

    def excess(round_time: float) -> float:
        value, _ = problem.main_bandwidth_needed(round_time)
        return min(value, 1e3 * scenario.bandwidth_main_hz)

    if excess(high) <= 0 and excess(high * (1 - 1e-12)) > 0:
        round_time = high  # the equal split is already optimal (identical users)
    else:
        round_time = brentq(excess, low * (1 + 1e-12), high * (1 + 1e-9), xtol=1e-15, rtol=1e-14, maxiter=500)
    _, t_main = problem.main_bandwidth_needed(round_time)
    budget = round_time - problem.tau
    t_fed = budget - n * t_main
    return ReferenceSolution(
        T=scenario.a / (1.0 - eta) * round_time,
        round_time=round_time,
        time_main_s=t_main,
        time_fed_s=t_fed,
        bandwidth_main_hz=problem.main_bandwidth(t_main),
        bandwidth_fed_hz=least_bandwidth(scenario.upload_bits / t_fed, scenario.power_to_noise_fed_hz),
    )


def scenario_from_values(*, L, gamma, xi, delta, eps0, cycles_per_sample, samples, cpu_hz, server_cpu_hz,
                         client_share, smashed_bits, upload_bits, gain_main_db, gain_fed_db, power_main_dbm,
                         power_fed_dbm, noise_dbm_per_hz, bandwidth_main_hz, bandwidth_fed_hz) -> Scenario:
    """Scenario from the workbook quantities, with Lemma 1/2 constants from the spec."""
    a = 2 * L**2 / (gamma**2 * xi) * math.log(1 / eps0)
    v = 2 / ((2 - L * delta) * delta * gamma)
    noise = 10 ** ((noise_dbm_per_hz - 30) / 10)

    def power_to_noise(gain_db, power_dbm):
        return 10 ** (np.asarray(gain_db, float) / 10) * 10 ** ((np.asarray(power_dbm, float) - 30) / 10) / noise

    return Scenario(
        a=a, v=v,
        compute_cycles=v * np.asarray(cycles_per_sample, float) * np.asarray(samples, float),
        client_cpu_hz=np.asarray(cpu_hz, float), server_cpu_hz=float(server_cpu_hz),
        client_share=float(client_share), smashed_bits=float(smashed_bits), upload_bits=float(upload_bits),
        power_to_noise_main_hz=power_to_noise(gain_main_db, power_main_dbm),
        power_to_noise_fed_hz=power_to_noise(gain_fed_db, power_fed_dbm),
        bandwidth_main_hz=float(bandwidth_main_hz), bandwidth_fed_hz=float(bandwidth_fed_hz),
    )
