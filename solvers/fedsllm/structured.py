"""A structured solver of FedsLLM Problem (17): per-user closed forms, a two-multiplier search, certified bounds.

Why it is fast. For a fixed eta, Problem (17) separates by user once the two bandwidth budgets are
priced. Each user's rate constraints (17b)/(17c) are tight at the optimum, so a link is described by one
number, its SNR z = c / b (c = g p / N0). Bandwidth and upload time are then explicit in z:

    b = c / z,        t = alpha h(z),   h(z) = z / ln(1 + z),   alpha = data ln 2 / c,

(the inverse map, the least bandwidth for a given time, is the Lambert W closed form of
tests/reference_fedsllm.py; it is never needed here). With R = (1 - eta) T / a the time per round,
n = v log2(1/eta) local iterations and tau_k the compute time (10), the KKT conditions of (17) are, per user,

    E1_k:  ln q(w_k) - ln q(z_k) = ln mu + ln kappa_k,   q(z) = z^2 h'(z),  kappa_k = n s c_c^2 / (s_c c_s^2)
    E2_k:  tau_k + alpha_c,k h(w_k) + n alpha_s,k h(z_k) = R            [(17a) tight]

(z main SNR, w fed SNR, mu the ratio of the fed to the main budget's multiplier), and the budgets
sum c_s/z = B_s, sum c_c/w = B_c [(17d), (17e) tight]. For given (R, mu) each user's (z, w) is one 2x2
Newton solve, vectorised over users; (R, mu) come from a damped two-dimensional Newton search on the
budgets with implicit derivatives. Memory and work are linear in K.

What it certifies. Every solve returns
- an upper bound: the allocation itself, scaled into both budgets, with T = the largest user delay (15);
- a Lagrangian lower bound: for budget multipliers lambda_s, lambda_c >= 0 and user weights nu on the
  simplex (all read off the allocation), weak duality gives
      R* >= sum_k nu_k tau_k - lambda_s B_s - lambda_c B_c
            + sum_k min_z [nu_k n alpha_s,k h(z) + lambda_s c_s,k / z] + min_w [nu_k alpha_c,k h(w) + lambda_c c_c,k / w],
  and each inner minimum is attained where q(z) equals a known value (the set a link can serve is convex,
  so that stationary point is its only minimum);
- their relative gap; the solve stops when it is at most `gap` (default 1e-9).
The bounds are exact up to floating-point rounding (about 1e-15 relative).

A client faster than the server only changes tau_k; `client_share` is an argument so that Problem (16)'s
A can be searched around this solver.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.settings import DEFAULT_GAP
from solvers.runtime.ipopt import warm_then_cold


SMALL_SNR = 1e-3  # below it ln(1 + z) - z/(1 + z) comes from its series (no cancellation)
USER_STEP_LIMIT = 2.0  # largest Newton step of a user's ln z or ln w (a factor e^2 in bandwidth)
USER_TOLERANCE = 1e-14  # per-user residuals: E1 relative to its terms, E2 relative to R
USER_ITERATION_LIMIT = 80
OUTER_ITERATION_LIMIT = 100
OUTER_TOLERANCE = 1e-13  # budget residuals ln(used / budget); a sum over 1e6 users rounds at about 1e-15
BACKTRACK_LIMIT = 12


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b), not BLAS: numpy's OpenBLAS runs a dot product of 20,000 entries on several threads, and
    on a busy machine they wait for each other (about 120 ms per call measured, where this takes 0.07 ms)."""
    return float(np.sum(a * b))


@dataclass(frozen=True)
class SnrTerms:
    """h(z), ln q(z), Q(z) = d ln q / d ln z and dh/d ln z = q(z)/z, elementwise."""

    h: np.ndarray
    log_q: np.ndarray
    slope_log_q: np.ndarray
    dh_dlog_z: np.ndarray


def _log_excess_over_z2(z: np.ndarray, log1p_z: np.ndarray) -> np.ndarray:
    """ln(D(z) / z^2) with D(z) = ln(1 + z) - z / (1 + z) > 0; from its series where D cancels."""
    small = z < SMALL_SNR
    if not small.any():  # the usual case, without the masked arithmetic (the solver calls this thousands of times)
        return np.log((log1p_z - z / (1.0 + z)) / (z * z))
    zs = np.where(small, z, 0.0)
    series = 0.5 + zs * (-2 / 3 + zs * (3 / 4 + zs * (-4 / 5 + zs * (5 / 6 + zs * (-6 / 7)))))
    zl = np.where(small, 1.0, z)
    direct = (log1p_z - zl / (1.0 + zl)) / (zl * zl)
    return np.log(np.where(small, series, direct))


def snr_terms(log_z: np.ndarray) -> SnrTerms:
    z = np.exp(log_z)
    log1p_z = np.log1p(z)
    log_d_over_z2 = _log_excess_over_z2(z, log1p_z)
    log_q = 4.0 * log_z + log_d_over_z2 - 2.0 * np.log(log1p_z)  # q = z^2 D / ln(1+z)^2
    z2_over_d = np.exp(-log_d_over_z2)
    one_plus_z = 1.0 + z
    slope = 2.0 + z2_over_d / (one_plus_z * one_plus_z) - 2.0 * z / (one_plus_z * log1p_z)
    return SnrTerms(z / log1p_z, log_q, slope, np.exp(log_q - log_z))


def snr_terms_of_both(log_z: np.ndarray, log_w: np.ndarray) -> tuple[SnrTerms, SnrTerms]:
    """snr_terms of the main and the fed link in one pass over both (half the numpy calls: at small K
    their overhead, not the arithmetic, is the solver's time)."""
    both = snr_terms(np.concatenate((log_z, log_w)))
    k = len(log_z)
    return (SnrTerms(both.h[:k], both.log_q[:k], both.slope_log_q[:k], both.dh_dlog_z[:k]),
            SnrTerms(both.h[k:], both.log_q[k:], both.slope_log_q[k:], both.dh_dlog_z[k:]))


def snr_for_log_q(target_log_q: np.ndarray, start_log_z: np.ndarray) -> np.ndarray:
    """ln z with ln q(z) = target (q is increasing; ln q is nearly linear in ln z, slope in (1, 2.5))."""
    log_z = start_log_z.copy()
    for _ in range(USER_ITERATION_LIMIT):
        terms = snr_terms(log_z)
        step = np.clip((target_log_q - terms.log_q) / terms.slope_log_q, -USER_STEP_LIMIT, USER_STEP_LIMIT)
        log_z += step
        if np.max(np.abs(step) / (1.0 + np.abs(log_z)), initial=0.0) < 1e-15:
            break
    return log_z


@dataclass(frozen=True)
class StructuredPoint:
    """Problem (17) at one eta: a feasible allocation (SI units), its T (upper bound), the lower bound."""

    eta: float
    T: float  # upper bound: every user's delay (15) is at most T and both budgets hold
    lower_bound: float  # Lagrangian lower bound on T*(eta)
    client_share: float  # A the point was solved at
    share_slope: float  # lower_bound + (A' - A) share_slope bounds T*(eta) at any other share A'
    multipliers: "Multipliers"  # those of the lower bound; they bound R* at any other eta too (dual_round_bound)
    converged: bool
    status: str  # "optimal" (gap reached), "gap not reached", "no convergence"
    iterations: int  # outer (R, mu) Newton steps
    user_iterations: int  # per-user Newton sweeps, summed
    seconds: float
    bandwidth_main_hz: np.ndarray
    bandwidth_fed_hz: np.ndarray
    time_main_s: np.ndarray
    time_fed_s: np.ndarray
    state: "_State"  # the solver's own point, to warm-start a neighbouring eta

    @property
    def gap(self) -> float:
        """(upper - lower) / upper, never below 0 (rounding can make it -1e-16)."""
        return max(0.0, (self.T - self.lower_bound) / self.T)


@dataclass(frozen=True)
class Multipliers:
    """The multipliers of a Lagrangian lower bound: user weights nu (on the simplex) and the budgets'
    lambda_s, lambda_c (s/Hz), with the SNRs that minimised it (starting points at another eta)."""

    nu: np.ndarray
    lambda_main: float
    lambda_fed: float
    log_z: np.ndarray
    log_w: np.ndarray


def dual_round_bound(scenario: SplitScenario, multipliers: Multipliers, eta: float,
                     client_share: float | None = None) -> float:
    """The Lagrangian dual function of (17) at `eta` with fixed multipliers: a lower bound on R*(eta) for
    any multipliers (weak duality). As a function of L = log2(1/eta) it is concave: tau is linear in L and
    each user's main-link term min_z [nu n alpha_s h(z) + lambda_s c_s / z] is a minimum of functions
    linear in n = v L (the fed-link term does not depend on eta)."""
    n = scenario.local_iterations(eta)
    tau = scenario.compute_time_s(eta, client_share)
    m = multipliers
    alpha_main, alpha_fed = scenario.min_time_main_s, scenario.min_time_fed_s
    # The minimisers: q(z) = lambda_s c_s / (nu n alpha_s), q(w) = lambda_c c_c / (nu alpha_c).
    log_z = snr_for_log_q(math.log(m.lambda_main) + np.log(scenario.power_to_noise_main_hz)
                          - np.log(m.nu * n * alpha_main), m.log_z)
    log_w = snr_for_log_q(math.log(m.lambda_fed) + np.log(scenario.power_to_noise_fed_hz)
                          - np.log(m.nu * alpha_fed), m.log_w)
    main, fed = snr_terms_of_both(log_z, log_w)
    per_user = (m.nu * (tau + n * alpha_main * main.h + alpha_fed * fed.h)
                + m.lambda_main * scenario.power_to_noise_main_hz * np.exp(-log_z)
                + m.lambda_fed * scenario.power_to_noise_fed_hz * np.exp(-log_w))
    return float(per_user.sum() - m.lambda_main * scenario.bandwidth_main_hz
                 - m.lambda_fed * scenario.bandwidth_fed_hz)


@dataclass(frozen=True)
class _State:
    log_z: np.ndarray
    log_w: np.ndarray
    round_time: float
    log_mu: float
    round_floor: float


class _FixedEta:
    """Problem (17) at one eta in the (z, w, R, mu) coordinates of the module docstring."""

    def __init__(self, scenario: SplitScenario, eta: float, client_share: float | None = None):
        self.s = scenario
        self.eta = eta
        self.n = scenario.local_iterations(eta)
        self.tau = scenario.compute_time_s(eta, client_share)
        self.alpha_main = scenario.min_time_main_s
        self.alpha_fed = scenario.min_time_fed_s
        self.log_kappa = (math.log(self.n * scenario.smashed_bits / scenario.upload_bits)
                          + 2.0 * np.log(scenario.power_to_noise_fed_hz) - 2.0 * np.log(scenario.power_to_noise_main_hz))
        # Each user needs more than this per round even with unlimited bandwidth (h >= 1).
        self.round_floor = float(np.max(self.tau + self.n * self.alpha_main + self.alpha_fed))
        self.user_iterations = 0

    def delays(self, main: SnrTerms, fed: SnrTerms) -> np.ndarray:
        return self.tau + self.alpha_fed * fed.h + self.n * self.alpha_main * main.h

    def user_jacobian(self, round_time: float, main: SnrTerms, fed: SnrTerms):
        """Each user's 2x2 Jacobian of (E1, E2) in (ln z, ln w), [[-Q(z), Q(w)], [d_main, d_fed]]: returns
        d_main, d_fed and its determinant (negative: every term is positive)."""
        d_main = self.n * self.alpha_main * main.dh_dlog_z / round_time
        d_fed = self.alpha_fed * fed.dh_dlog_z / round_time
        return d_main, d_fed, -main.slope_log_q * d_fed - fed.slope_log_q * d_main

    def solve_users(self, round_time: float, log_mu: float, log_z: np.ndarray, log_w: np.ndarray):
        """Each user's (ln z, ln w) with E1 = E2 = 0 at (R, mu), by damped Newton from the given point.
        Returns ln z, ln w, their SnrTerms and whether every user converged."""
        log_z, log_w = log_z.copy(), log_w.copy()
        for _ in range(USER_ITERATION_LIMIT):
            main, fed = snr_terms_of_both(log_z, log_w)
            e1 = fed.log_q - main.log_q - log_mu - self.log_kappa
            e2 = self.delays(main, fed) / round_time - 1.0
            d_main, d_fed, det = self.user_jacobian(round_time, main, fed)
            step_z = (-d_fed * e1 + fed.slope_log_q * e2) / det
            step_w = (d_main * e1 + main.slope_log_q * e2) / det
            self.user_iterations += 1
            # E1 is a difference of logarithms as large as 50: its rounding grows with them.
            e1_scale = np.abs(fed.log_q) + np.abs(main.log_q) + abs(log_mu) + np.abs(self.log_kappa) + 1.0
            if np.max(np.abs(e1) / e1_scale) < USER_TOLERANCE and np.max(np.abs(e2)) < USER_TOLERANCE:
                return log_z, log_w, main, fed, True
            largest = np.maximum(np.abs(step_z), np.abs(step_w))
            scale = np.minimum(1.0, USER_STEP_LIMIT / np.maximum(largest, 1e-300))
            log_z += scale * step_z
            log_w += scale * step_w
            if np.max(largest) < 1e-15:
                break
        main, fed = snr_terms_of_both(log_z, log_w)
        return log_z, log_w, main, fed, False

    def budget_residuals(self, log_z, log_w) -> tuple[float, float, np.ndarray, np.ndarray]:
        """ln(used / budget) on both links, and each user's bandwidths (Hz)."""
        main_hz = self.s.power_to_noise_main_hz * np.exp(-log_z)
        fed_hz = self.s.power_to_noise_fed_hz * np.exp(-log_w)
        return (math.log(main_hz.sum() / self.s.bandwidth_main_hz), math.log(fed_hz.sum() / self.s.bandwidth_fed_hz),
                main_hz, fed_hz)

    def sensitivities(self, round_time: float, main: SnrTerms, fed: SnrTerms, main_hz, fed_hz):
        """d(residuals)/d(ln(R - floor), ln mu) from the per-user 2x2 systems (implicit derivatives)."""
        d_main, d_fed, det = self.user_jacobian(round_time, main, fed)
        # [dz; dw] = J^-1 [d ln mu; dR / R]
        dz_dmu, dw_dmu = d_fed / det, -d_main / det
        dz_dr, dw_dr = -fed.slope_log_q / det, -main.slope_log_q / det
        dr_drho = (round_time - self.round_floor) / round_time
        main_total, fed_total = main_hz.sum(), fed_hz.sum()
        return np.array([
            [-_dot(main_hz, dz_dr) * dr_drho / main_total, -_dot(main_hz, dz_dmu) / main_total],
            [-_dot(fed_hz, dw_dr) * dr_drho / fed_total, -_dot(fed_hz, dw_dmu) / fed_total],
        ])

    def cold_state(self) -> _State:
        """The equal split: SNRs at B/K, R its largest user delay, mu from the users' median E1."""
        count = self.s.user_count
        log_z = np.log(self.s.power_to_noise_main_hz * count / self.s.bandwidth_main_hz)
        log_w = np.log(self.s.power_to_noise_fed_hz * count / self.s.bandwidth_fed_hz)
        main, fed = snr_terms_of_both(log_z, log_w)
        round_time = float(np.max(self.delays(main, fed)))
        log_mu = float(np.median(fed.log_q - main.log_q - self.log_kappa))
        return _State(log_z, log_w, round_time, log_mu, self.round_floor)

    def warm_state(self, previous: _State) -> _State:
        """A neighbouring eta's point, with R moved by the change of the round floor."""
        round_time = self.round_floor + max(previous.round_time - previous.round_floor, 1e-12 * self.round_floor)
        return _State(previous.log_z, previous.log_w, round_time, previous.log_mu, self.round_floor)

    def upper_bound(self, log_z, log_w) -> tuple[float, np.ndarray, np.ndarray]:
        """The allocation scaled into both budgets (SNRs raised where a budget is overrun by rounding);
        returns the largest user delay per round and the feasible ln z, ln w."""
        _, _, main_hz, fed_hz = self.budget_residuals(log_z, log_w)
        over_main = max(1.0, main_hz.sum() / self.s.bandwidth_main_hz) * (1 + 4e-16)
        over_fed = max(1.0, fed_hz.sum() / self.s.bandwidth_fed_hz) * (1 + 4e-16)
        log_z, log_w = log_z + math.log(over_main), log_w + math.log(over_fed)
        return float(np.max(self.delays(snr_terms(log_z), snr_terms(log_w)))), log_z, log_w

    def lower_bound(self, log_z, log_w, log_mu: float) -> tuple[float, "Multipliers"]:
        """The Lagrangian bound of the module docstring on R*, with multipliers read off (z, w, mu), and
        those multipliers (the bound is affine in tau with slopes nu)."""
        main = snr_terms(log_z)
        # Weights x_k = nu_k / lambda_s from the user's main-link stationarity: q(z_k) = c_s / (x_k n alpha_s).
        log_x = np.log(self.s.power_to_noise_main_hz) - math.log(self.n) - np.log(self.alpha_main) - main.log_q
        shift = float(np.max(log_x))
        x = np.exp(log_x - shift)
        total = x.sum()
        nu = x / total
        lambda_main = math.exp(-shift) / total
        lambda_fed = math.exp(log_mu) * lambda_main
        # The fed link's minimiser: q(w) = lambda_c c_c / (nu_k alpha_c) = mu kappa_k q(z_k).
        log_w_best = snr_for_log_q(log_mu + self.log_kappa + main.log_q, log_w)
        fed = snr_terms(log_w_best)
        w_hz = self.s.power_to_noise_fed_hz * np.exp(-log_w_best)
        z_hz = self.s.power_to_noise_main_hz * np.exp(-log_z)
        return (float(_dot(nu, self.delays(main, fed)) - lambda_main * (self.s.bandwidth_main_hz - z_hz.sum())
                      - lambda_fed * (self.s.bandwidth_fed_hz - w_hz.sum())),
                Multipliers(nu, lambda_main, lambda_fed, log_z, log_w_best))


def solve_structured(scenario: SplitScenario, eta: float, start: StructuredPoint | None = None,
                     gap: float = DEFAULT_GAP, client_share: float | None = None) -> StructuredPoint:
    """Problem (17) at `eta`, warm-started from a neighbouring point when given; a warm start that fails is
    retried once cold (the point counts the per-user sweeps of both)."""
    points = warm_then_cold(lambda warm: _solve_at(scenario, eta, start if warm else None, gap, client_share),
                            start is not None, lambda point: point.converged)
    if len(points) == 1:
        return points[0]
    return replace(points[-1], user_iterations=sum(point.user_iterations for point in points))


def _solve_at(scenario: SplitScenario, eta: float, start: StructuredPoint | None, gap: float,
              client_share: float | None) -> StructuredPoint:
    """One solve of Problem (17) at `eta`, from `start` or cold.

    T = (8) rounds a/(1-eta) times the round time R; the bounds divided by the rounds are bounds on the
    round time R*(eta), which depends on eta only through n and tau (what the global search uses)."""
    started = time.perf_counter()
    problem = _FixedEta(scenario, eta, client_share)
    state = problem.warm_state(start.state) if start is not None else problem.cold_state()
    log_z, log_w, log_mu = state.log_z, state.log_w, state.log_mu
    log_excess = math.log(state.round_time - problem.round_floor)  # rho = ln(R - floor) keeps R above the floor

    def evaluate(rho: float, mu: float, z0, w0):
        round_time = problem.round_floor + math.exp(rho)
        z, w, main, fed, ok = problem.solve_users(round_time, mu, z0, w0)
        r_main, r_fed, main_hz, fed_hz = problem.budget_residuals(z, w)
        return round_time, z, w, main, fed, ok, np.array([r_main, r_fed]), main_hz, fed_hz

    current = evaluate(log_excess, log_mu, log_z, log_w)
    iterations, status = 0, "no convergence"
    for iterations in range(1, OUTER_ITERATION_LIMIT + 1):
        round_time, log_z, log_w, main, fed, users_ok, residual, main_hz, fed_hz = current
        norm = float(np.max(np.abs(residual)))
        if users_ok and norm < OUTER_TOLERANCE:
            break
        jacobian = problem.sensitivities(round_time, main, fed, main_hz, fed_hz)
        step = np.linalg.solve(jacobian, -residual)
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        for _ in range(BACKTRACK_LIMIT):  # halve the step until the budget residuals shrink
            trial = evaluate(log_excess + step[0], log_mu + step[1], log_z, log_w)
            if trial[5] and float(np.max(np.abs(trial[6]))) < norm:
                break
            step *= 0.5
        else:
            break  # no progress left in floating point: the bounds below say how good the point is
        log_excess, log_mu = log_excess + step[0], log_mu + step[1]
        current = trial
    round_time, log_z, log_w, main, fed, users_ok, residual, main_hz, fed_hz = current

    upper_round, feasible_z, feasible_w = problem.upper_bound(log_z, log_w)
    lower_round, multipliers = problem.lower_bound(log_z, log_w, log_mu)
    weights = multipliers.nu
    # The bound is affine in every tau_k with slope nu_k, and tau_k is affine in the client share A, so
    # the same multipliers bound T* at any other A: lower + (A' - A) * share_slope (Problem (16)'s A).
    work = scenario.compute_cycles * math.log2(1.0 / eta)
    share_slope = scenario.rounds(eta) * float(_dot(weights, work * (1.0 / scenario.client_cpu_hz
                                                                   - 1.0 / scenario.server_cpu_hz)))
    rounds = scenario.rounds(eta)
    upper, lower = rounds * upper_round, rounds * lower_round
    if math.isfinite(upper) and math.isfinite(lower) and upper - lower <= gap * upper:  # nan data: not proven
        status = "optimal"
    elif users_ok:
        status = "gap not reached"
    main_feasible, fed_feasible = snr_terms(feasible_z), snr_terms(feasible_w)
    return StructuredPoint(
        eta=eta, T=upper, lower_bound=lower,
        client_share=scenario.client_share if client_share is None else client_share, share_slope=share_slope,
        multipliers=multipliers,
        converged=status == "optimal", status=status, iterations=iterations,
        user_iterations=problem.user_iterations, seconds=time.perf_counter() - started,
        bandwidth_main_hz=scenario.power_to_noise_main_hz * np.exp(-feasible_z),
        bandwidth_fed_hz=scenario.power_to_noise_fed_hz * np.exp(-feasible_w),
        time_main_s=problem.alpha_main * main_feasible.h, time_fed_s=problem.alpha_fed * fed_feasible.h,
        state=_State(log_z, log_w, round_time, log_mu, problem.round_floor))
