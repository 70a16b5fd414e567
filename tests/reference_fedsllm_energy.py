"""Independent solutions of FedsLLM Problem (E) (the spec's "Energy"): no Pyomo, no fedsplit solver.

Written from the spec's formulas in SI units (Hz, s, bit, W, J), from the raw scenario values:
- `identical_users`: K identical users. By symmetry and strict convexity each gets B/K of both links,
  so one user's problem remains: its clock f, the server clock f_s, its upload times t_s, t_c (the powers
  follow from the times, p = N0 b/g (2^(S/(t b)) - 1)). Each of the four parts of the round's time has
  an energy falling with it; the optimum spends the round R = T_max/I0 where every part's marginal
  energy per second is one price: for a price, each part's time is a 1-D minimisation (scipy's bounded
  Brent), and the price is a 1-D root (brentq) of "the parts fill R".
- `brute_force_equal_split`: K = 1-3 users on fixed bandwidths, the minimum over a grid of clocks and
  powers (f_k, p_s,k, p_c,k per user and f_s), refined once around the best point. For a server clock
  the users are independent; each user's grid is searched exactly (a sorted envelope for its fed link).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

LN2 = math.log(2.0)


@dataclass(frozen=True)
class EnergyCase:
    """Problem (E)'s data from raw values (spec units converted by hand)."""

    a: float
    v: float
    cycles: np.ndarray  # E_k = v C_k D_k
    client_cpu_hz: np.ndarray
    server_cpu_hz: float
    share: float  # A = A_min
    smashed_bits: float
    upload_bits: float
    noise_over_gain_main: np.ndarray  # N0 / g (W/Hz)
    noise_over_gain_fed: np.ndarray
    power_main_w: np.ndarray
    power_fed_w: np.ndarray
    bandwidth_main_hz: float
    bandwidth_fed_hz: float
    kappa: float
    server_kappa: float


def energy_case(p: dict, users: dict) -> EnergyCase:
    a = 2 * p["L"] ** 2 / (p["gamma"] ** 2 * p["xi"]) * math.log(1 / p["eps0"])
    v = 2 / ((2 - p["L"] * p["delta"]) * p["delta"] * p["gamma"])
    noise = 10 ** ((p["noise_psd_dbm_per_hz"] - 30) / 10)
    return EnergyCase(a, v, v * np.asarray(users["cycles_per_sample"], float) * np.asarray(users["samples"], float),
                      np.asarray(users["cpu_max_hz"], float), p["server_cpu_max_hz"], p["client_share_min"],
                      p["smashed_bits"], p["model_upload_bits"], noise / 10 ** (np.asarray(users["gain_main_db"]) / 10),
                      noise / 10 ** (np.asarray(users["gain_fed_db"]) / 10),
                      10 ** ((np.asarray(users["power_main_max_dbm"], float) - 30) / 10),
                      10 ** ((np.asarray(users["power_fed_max_dbm"], float) - 30) / 10),
                      p["bandwidth_main_hz"], p["bandwidth_fed_hz"], p["kappa"], p["server_kappa"])


def upload_energy(bits: float, time_s, bandwidth_hz, noise_over_gain) -> np.ndarray:
    """p t with the least power: N0 b/g (2^(S/(t b)) - 1) t."""
    return noise_over_gain * bandwidth_hz * np.expm1(LN2 * bits / (time_s * bandwidth_hz)) * time_s


def identical_users(case: EnergyCase, eta: float, max_delay_s: float) -> dict:
    """The least energy of K identical users at eta (module docstring); case arrays hold one user's values."""
    K = len(case.cycles)
    rounds, L = case.a / (1 - eta), math.log2(1 / eta)
    n, w = case.v * L, float(case.cycles[0]) * L
    round_time = max_delay_s / rounds
    b_main, b_fed = case.bandwidth_main_hz / K, case.bandwidth_fed_hz / K
    rho_main, rho_fed = float(case.noise_over_gain_main[0]), float(case.noise_over_gain_fed[0])

    def clock_part(price, kappa, cycles, f_max):
        """min over tau >= cycles/f_max of I kappa cycles^3/tau^2 + price tau: (time, energy)."""
        tau = max((2 * rounds * kappa * cycles ** 3 / price) ** (1 / 3), cycles / f_max)
        return tau, rounds * kappa * cycles ** 3 / tau ** 2

    def link_part(price, count, bits, rho, bandwidth, p_max):
        """min over t of I count e(t) + price count t, e(t) = p t = rho b t (2^(S/(t b)) - 1), t at least the
        time at p^max: e is convex and falling, so the minimum is where I e'(t) + price = 0 (brentq), or at
        that least time. Returns (count t, energy)."""
        least = bits / (bandwidth * math.log2(1 + p_max / (rho * bandwidth)))

        def slope(log_t):  # I e'(t) + price, e'(t) = rho b (2^z - 1 - z ln2 2^z), z = S/(t b)
            z = bits / (math.exp(log_t) * bandwidth)
            return rounds * rho * bandwidth * (math.expm1(LN2 * z) - LN2 * z * 2 ** z) + price

        t = least if slope(math.log(least)) >= 0 else math.exp(brentq(slope, math.log(least), 60.0, xtol=1e-15))
        return count * t, rounds * count * float(upload_energy(bits, t, bandwidth, rho))

    def parts(price):
        return [clock_part(price, case.kappa, case.share * w, float(case.client_cpu_hz[0])),
                clock_part(price, case.server_kappa, (1 - case.share) * w, case.server_cpu_hz),
                link_part(price, n, case.smashed_bits, rho_main, b_main, float(case.power_main_w[0])),
                link_part(price, 1.0, case.upload_bits, rho_fed, b_fed, float(case.power_fed_w[0]))]

    log_price = brentq(lambda x: sum(t for t, _ in parts(math.exp(x))) - round_time, -80, 80, xtol=1e-14)
    found = parts(math.exp(log_price))
    (client_t, client_e), (server_t, server_e), (main_t, main_e), (fed_t, fed_e) = found
    return {"energy_j": K * (client_e + server_e + main_e + fed_e), "client_hz": case.share * w / client_t,
            "server_hz": (1 - case.share) * w / server_t, "time_main_s": main_t / n, "time_fed_s": fed_t,
            "parts_j": [K * client_e, K * server_e, K * main_e, K * fed_e]}


def _user_minimum(case, k, rounds, L, n, round_left, clocks, powers_main, powers_fed, b_main, b_fed):
    """One user's least energy over its grid (clock, main power, fed power) within `round_left` seconds:
    every (clock, main power) pair with the cheapest fed power whose time still fits. Returns the energy
    and the chosen clock, main power and fed power."""
    w = float(case.cycles[k]) * L
    client_t = case.share * w / clocks
    client_e = rounds * case.kappa * case.share * w * clocks ** 2
    main_t = n * case.smashed_bits / (b_main * np.log2(1 + powers_main / (case.noise_over_gain_main[k] * b_main)))
    main_e = rounds * powers_main * main_t
    fed_t = case.upload_bits / (b_fed * np.log2(1 + powers_fed / (case.noise_over_gain_fed[k] * b_fed)))
    fed_e = rounds * powers_fed * fed_t
    order = np.argsort(fed_t)
    sorted_t, sorted_e = fed_t[order], fed_e[order]
    prefix_min = np.minimum.accumulate(sorted_e)  # the cheapest fed option among the times up to each one
    prefix_arg = np.maximum.accumulate(np.where(sorted_e == prefix_min, np.arange(len(sorted_e)), 0))
    left = round_left - client_t[:, None] - main_t[None, :]
    index = np.searchsorted(sorted_t, left, side="right") - 1  # the longest fed time that fits
    total = np.where(index >= 0, client_e[:, None] + main_e[None, :] + prefix_min[np.maximum(index, 0)], np.inf)
    i, j = divmod(int(np.argmin(total)), total.shape[1])
    fed_power = powers_fed[order[prefix_arg[max(int(index[i, j]), 0)]]]
    return float(total[i, j]), clocks[i], powers_main[j], fed_power


def brute_force_equal_split(case: EnergyCase, eta: float, max_delay_s: float, points: int = 160,
                            rounds_of_refinement: int = 2) -> float:
    """The least energy over a grid of every clock and power with B/K on both links (module docstring)."""
    K = len(case.cycles)
    rounds, L = case.a / (1 - eta), math.log2(1 / eta)
    n = case.v * L
    round_time = max_delay_s / rounds
    b_main, b_fed = case.bandwidth_main_hz / K, case.bandwidth_fed_hz / K
    ranges = {"server": (case.server_cpu_hz * 1e-3, case.server_cpu_hz),
              "client": [(f * 1e-3, f) for f in case.client_cpu_hz],
              "main": [(p * 1e-4, p) for p in case.power_main_w], "fed": [(p * 1e-4, p) for p in case.power_fed_w]}
    best = math.inf
    for _ in range(rounds_of_refinement + 1):
        servers = np.geomspace(*ranges["server"], points)
        found = []
        for server in servers:
            total, chosen = 0.0, []
            for k in range(K):
                left = round_time - (1 - case.share) * float(case.cycles[k]) * L / server
                energy, *decisions = _user_minimum(
                    case, k, rounds, L, n, left, np.geomspace(*ranges["client"][k], points),
                    np.geomspace(*ranges["main"][k], points), np.geomspace(*ranges["fed"][k], points), b_main, b_fed)
                total += energy
                chosen.append(decisions)
            total += rounds * case.server_kappa * (1 - case.share) * float(case.cycles.sum()) * L * server ** 2
            found.append((total, server, chosen))
        total, server, chosen = min(found, key=lambda item: item[0])
        best = min(best, total)
        factor = (ranges["server"][1] / ranges["server"][0]) ** (3 / points)  # three grid steps either side
        ranges = {"server": (server / factor, min(server * factor, case.server_cpu_hz)),
                  "client": [(c / factor, min(c * factor, case.client_cpu_hz[k])) for k, (c, _, _) in enumerate(chosen)],
                  "main": [(p / factor, min(p * factor, case.power_main_w[k])) for k, (_, p, _) in enumerate(chosen)],
                  "fed": [(p / factor, min(p * factor, case.power_fed_w[k])) for k, (_, _, p) in enumerate(chosen)]}
    return best
