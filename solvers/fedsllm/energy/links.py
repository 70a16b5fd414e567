"""One link of Problem (E) per user, at given multipliers: the minimisation the structured engine
(solvers/fedsllm/energy/structured.py) separates the Lagrangian into, in closed form up to one
monotone equation.

min over (z, b) of I m rho S q(z) + mu b + Lambda m S/(z b), q(z) = (2^z - 1)/z, subject to the power cap
rho b (2^z - 1) <= p^max (m = n for the main link, 1 for the fed link; rho = N0/g):
- without the cap, b = sqrt(Lambda m S/(mu z)) and G(z) = z^(3/2) q'(z) = sqrt(Lambda mu/(m S))/(I rho);
- on the cap (p = p^max) the link is the delay problem's: the SNR s = c/b solves
  s^2 h'(s) = mu c/(m (I p^max + Lambda) alpha), h(s) = s/ln(1+s), alpha = S ln 2/c;
- with the bandwidth fixed (EB, BA): z^2 q'(z) = Lambda/(I rho b), clipped at the cap.
Each solve also returns the derivatives the outer Newton search's implicit Jacobian needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from solvers.fedsllm.structured import snr_for_log_q, snr_terms

LN2 = math.log(2.0)
SERIES_BELOW = 1e-3  # x = z ln 2 below which N(x) = x e^x - (e^x - 1) comes from its series
ITERATIONS = 100
STEP_LIMIT = 3.0  # largest Newton step of a logarithm
LOG_Z_RANGE = (-60.0, 6.5)  # spectral efficiencies from 1e-26 to 665 bit/s/Hz (2^z finite)


def log_n(log_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln N(x) with N(x) = x e^x - (e^x - 1) = z^2 q'(z), x = z ln 2, and d ln N / d ln z = x^2 e^x / N."""
    x = np.exp(log_z) * LN2
    small = x < SERIES_BELOW
    xs = np.where(small, x, 0.0)
    series = 0.5 + xs * (1 / 3 + xs * (1 / 8 + xs / 30))  # N / x^2
    xl = np.where(small, 1.0, x)
    direct = (xl * np.exp(xl) - np.expm1(xl)) / (xl * xl)
    log_ratio = np.log(np.where(small, series, direct))  # ln(N / x^2)
    return 2.0 * np.log(x) + log_ratio, np.exp(x - log_ratio)  # d ln N/d ln z = x^2 e^x / N = e^x / (N/x^2)


def solve_log_n(target: np.ndarray, start: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """ln z with ln N(z) + shift ln z = target (shift -1/2: G(z) = z^(3/2) q'(z); 0: z^2 q'(z)); both sides
    increase with ln z, convexly for large z, so Newton is kept inside a bracket (bisection outside it).
    A target beyond LOG_Z_RANGE gives that end."""
    ends = np.array(LOG_Z_RANGE)
    end_values = log_n(ends)[0] + shift * ends
    done = (target <= end_values[0]) | (target >= end_values[1])
    log_z = np.where(target <= end_values[0], ends[0], np.where(target >= end_values[1], ends[1],
                                                                   np.clip(start, *LOG_Z_RANGE)))
    low, high = np.full_like(log_z, ends[0]), np.full_like(log_z, ends[1])
    for _ in range(ITERATIONS):
        value, slope = log_n(log_z)
        residual = np.where(done, 0.0, value + shift * log_z - target)
        active = np.abs(residual) >= 1e-15 * (1.0 + np.abs(target))  # converged entries stay where they are
        if not active.any():
            break
        low = np.where(residual < 0, log_z, low)
        high = np.where(residual > 0, log_z, high)
        step = -residual / (slope + shift)
        # Above z ln 2 = 1 both sides are nearly linear in z, not in ln z: Newton in z there (concave: it
        # does not overshoot from below), in ln z below
        linear_in_z = (np.exp(log_z) * LN2 > 1.0) & (step > -0.9)
        step = np.where(linear_in_z, np.log1p(np.maximum(step, -0.9)), step)
        trial = log_z + np.clip(step, -STEP_LIMIT, STEP_LIMIT)
        moved = np.where((trial <= low) | (trial >= high), 0.5 * (low + high), trial)
        log_z = np.where(active, moved, log_z)
        if np.max(np.where(active, high - low, 0.0), initial=0.0) < 1e-15:
            break
    return log_z


@dataclass
class LinkState:
    """One link of every user at the current multipliers: its decisions, time and the time's slope."""

    log_z: np.ndarray  # unconstrained point's spectral efficiency (ln)
    log_s: np.ndarray  # capped point's SNR c/b (ln)
    time_s: np.ndarray = None
    bandwidth_hz: np.ndarray = None
    dtime_dlog_lambda: np.ndarray = None
    value: np.ndarray = None  # I m rho S q(z) + mu b + Lambda m t: the link's part of D
    # at fixed Lambda, mu: d ln b / d ln Lambda, d ln b / d ln mu, d ln t / d ln mu (the outer Jacobian's parts)
    dlog_b_dlog_lambda: np.ndarray = None
    dlog_b_dlog_mu: np.ndarray = None
    dlog_t_dlog_mu: np.ndarray = None


class Link:
    """One link's data (`bits` S, m = n or 1, rho = N0/g, c = g p^max/N0) and its minimisation."""

    def __init__(self, bits: float, m: float, rho: np.ndarray, power_to_noise: np.ndarray, power_max: np.ndarray,
                 rounds: float, fixed_bandwidth: np.ndarray | None):
        self.bits, self.m, self.rho, self.c, self.pmax, self.rounds = bits, m, rho, power_to_noise, power_max, rounds
        self.alpha = bits * LN2 / power_to_noise
        self.fixed = fixed_bandwidth
        if fixed_bandwidth is not None:  # the largest spectral efficiency the cap allows on b
            self.log_z_cap = np.log(np.log2(1.0 + power_to_noise / fixed_bandwidth))

    def solve(self, log_lambda: np.ndarray, log_mu: float, state: LinkState) -> LinkState:
        lam = np.exp(log_lambda)
        I, m, S = self.rounds, self.m, self.bits
        if self.fixed is not None:
            b = self.fixed
            log_z = solve_log_n(log_lambda - np.log(I * self.rho * b), state.log_z)
            capped = log_z >= self.log_z_cap
            log_z = np.minimum(log_z, self.log_z_cap)
            z = np.exp(log_z)
            t = S / (z * b)
            _, slope = log_n(log_z)
            dt = np.where(capped, 0.0, -t / slope)
            value = I * m * self.rho * S * np.expm1(LN2 * z) / z + lam * m * t
            return LinkState(log_z, state.log_s, t, b, dt, value)
        mu = math.exp(log_mu)
        target = 0.5 * (log_lambda + log_mu - math.log(m * S)) - np.log(I * self.rho)
        log_z = solve_log_n(target, state.log_z, shift=-0.5)
        z = np.exp(log_z)
        b_free = np.sqrt(lam * m * S / (mu * z))
        capped = self.rho * b_free * np.expm1(LN2 * z) > self.pmax
        _, slope = log_n(log_z)
        t_free = S / (z * b_free)
        # uncapped: ln G(z) = (ln Lambda + ln mu)/2 + const, b = sqrt(Lambda m S/(mu z)), t = S/(z b)
        g = 1.0 / (2.0 * (slope - 0.5))  # d ln z / d ln Lambda = d ln z / d ln mu
        dt_free = -0.5 * t_free * (1.0 + g)
        log_s = snr_for_log_q(log_mu + np.log(self.c) - np.log(m * (I * self.pmax + lam) * self.alpha), state.log_s)
        terms = snr_terms(log_s)
        t_cap = self.alpha * terms.h
        dt_cap = self.alpha * terms.dh_dlog_z * (-(lam / (I * self.pmax + lam)) / terms.slope_log_q)
        b = np.where(capped, self.c * np.exp(-log_s), b_free)
        t = np.where(capped, t_cap, t_free)
        energy = np.where(capped, I * m * self.pmax * t_cap, I * m * self.rho * S * np.expm1(LN2 * z) / z)
        # capped: ln q(s) = ln mu - ln(I p^max + Lambda) + const, b = c/s, t = alpha h(s)
        share, elasticity = lam / (I * self.pmax + lam), terms.dh_dlog_z / terms.h
        return LinkState(log_z, log_s, t, b, np.where(capped, dt_cap, dt_free), energy + mu * b + lam * m * t,
                         np.where(capped, share / terms.slope_log_q, 0.5 * (1.0 - g)),
                         np.where(capped, -1.0 / terms.slope_log_q, -0.5 * (1.0 + g)),
                         np.where(capped, elasticity / terms.slope_log_q, 0.5 * (1.0 - g)))
