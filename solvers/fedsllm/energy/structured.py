"""A structured solver of Problem (E) at one eta (or one relaxation): closed forms per user, a small outer
Newton search, and certified bounds from weak duality.

Per round, with I rounds, L = log2(1/eta), n = v L, w_k = E_k L cycles, R = T_max / I, rho = N0/g and
q(z) = (2^z - 1)/z, Problem (E) is: minimise
    I sum_k [kappa A w_k f_k^2 + kappa_s (1-A) w_k f_s^2 + n rho_s S_s q(z_s) + rho_c S_c q(z_c)]
subject to A w_k/f_k + (1-A) w_k/f_s + S_c/(z_c b_c) + n S_s/(z_s b_s) <= R (Ea), the budgets, the caps
rho b (2^z - 1) <= p^max, f_k <= f_k^max, f_s <= f_s^max (z = S/(t b): the rate rows are tight).

The Lagrangian with multipliers Lambda_k >= 0 of the delay rows and mu_x >= 0 of the budgets separates:
- client clock:  min_f I kappa A w f^2 + Lambda A w / f        -> f = min(f^max, (Lambda / (2 I kappa))^(1/3))
- server clock:  min_fs I kappa_s (1-A) W fs^2 + (1-A) sum_k Lambda_k w_k / fs   (W = sum w_k), alike
- each link:     min_{z,b} I m rho S q(z) + mu b + Lambda m S/(z b)  s.t. the power cap  (m = n or 1).
  Without the cap its minimum has b = sqrt(Lambda m S / (mu z)) and G(z) = z^(3/2) q'(z) =
  sqrt(Lambda mu / (m S)) / (I rho), G increasing. If that point breaks the cap, the minimum is on the
  cap (p = p^max): there the link is the delay problem's, t = alpha h(s) with the SNR s = c/b,
  h(s) = s/ln(1+s), alpha = S ln 2 / c, c = g p^max/N0, and s^2 h'(s) = mu c / (m (I p^max + Lambda) alpha)
  (solvers.fedsllm.structured's snr_for_log_q). With the bandwidth fixed (EB, BA) the link is one
  dimensional: z^2 q'(z) = Lambda / (I rho b), clipped at the cap.
So D(Lambda, mu) = sum of these minima - R sum Lambda - mu . B is a lower bound on E* for any
multipliers (weak duality): the solver's lower bound. The search: for outer values (mu_s, mu_c, f_s)
each user's Lambda_k makes its delay row tight (a scalar Newton solve, vectorised over users); a damped
Newton search on the outer values meets both budgets and the server clock's stationarity. The upper
bound is that allocation, solved with R and B shrunk by 1e-12 so that it is feasible, and checked in
numpy; the solve stops when the relative gap is at most `gap`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.fedsllm.energy.links import ITERATIONS, STEP_LIMIT, Link, LinkState
from solvers.fedsllm.energy.scenario import EnergyAllocation, EnergyScenario, allocation_with_energy

SHRINK = 1e-12  # R and B are shrunk by this, so the allocation is feasible after the outer residuals
USER_TOLERANCE = 1e-14  # |ln(round time / R)| per user
OUTER_TOLERANCE = 1e-13  # outer residuals (logarithms)


@dataclass(frozen=True)
class EnergyStructuredPoint:
    allocation: EnergyAllocation | None  # the upper bound's allocation (None: no feasible one found)
    upper_j: float
    lower_j: float  # D(Lambda, mu): a lower bound on E* (weak duality)
    status: str  # optimal, gap not reached, infeasible
    iterations: int
    seconds: float

    @property
    def gap(self) -> float:
        return max(0.0, (self.upper_j - self.lower_j) / self.upper_j) if math.isfinite(self.upper_j) else math.inf


class FixedTheta:
    """Problem (E) at given rounds I and L (an eta, or a relaxation's theta)."""

    def __init__(self, scenario: EnergyScenario, rounds: float, log2_inverse: float, max_delay_s: float,
                 equal_split: bool):
        split = scenario.split
        self.scenario, self.rounds, self.max_delay_s = scenario, rounds, max_delay_s
        self.A, self.n = split.client_share, split.v * log2_inverse
        self.work = split.compute_cycles * log2_inverse
        self.round_time = max_delay_s / rounds
        self.kappa, self.server_kappa = scenario.kappa, scenario.server_kappa
        count = split.user_count
        fixed = [np.full(count, split.bandwidth_main_hz / count), np.full(count, split.bandwidth_fed_hz / count)] \
            if equal_split else [None, None]
        self.main = Link(split.smashed_bits, self.n, 1.0 / scenario.gain_to_noise_main_per_w,
                         split.power_to_noise_main_hz, scenario.power_main_max_w, rounds, fixed[0])
        self.fed = Link(split.upload_bits, 1.0, 1.0 / scenario.gain_to_noise_fed_per_w, split.power_to_noise_fed_hz,
                        scenario.power_fed_max_w, rounds, fixed[1])
        self.equal_split = equal_split
        # the least per-round time without the server's share: clocks at their maxima, unlimited bandwidth
        # (or the cap's on a fixed one)
        fed_floor = self.fed.alpha if not equal_split else split.upload_bits / (fixed[1] * np.exp(self.fed.log_z_cap))
        main_floor = self.main.alpha if not equal_split else split.smashed_bits / (fixed[0] * np.exp(self.main.log_z_cap))
        self.floor = self.A * self.work / split.client_cpu_hz + fed_floor + self.n * main_floor

    def client_clock(self, lam: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            free = np.cbrt(lam / (2.0 * self.rounds * self.kappa)) if self.kappa > 0 else np.full_like(lam, np.inf)
        return np.minimum(self.scenario.split.client_cpu_hz, free)

    def server_clock(self, lam: np.ndarray) -> float:
        """The dual's server clock: min(f_s^max, (sum Lambda w / (2 I kappa_s W))^(1/3))."""
        if self.server_kappa <= 0:
            return self.scenario.split.server_cpu_hz
        free = math.cbrt(float(lam @ self.work) / (2.0 * self.rounds * self.server_kappa * self.work.sum()))
        return min(self.scenario.split.server_cpu_hz, free)

    # --- users at fixed outer values ------------------------------------------------------------

    def solve_users(self, log_mu: tuple[float, float], server_hz: float, state: dict, round_time: float):
        """Each user's Lambda_k with its delay row tight at `round_time` (a safeguarded Newton solve in
        ln Lambda, vectorised); returns the updated state (ln Lambda, both links) and whether all converged."""
        log_lambda = state["log_lambda"].copy()
        low = np.full_like(log_lambda, -np.inf)
        high = np.full_like(log_lambda, np.inf)
        server_time = (1.0 - self.A) * self.work / server_hz
        main, fed = state["main"], state["fed"]
        for _ in range(ITERATIONS):
            lam = np.exp(log_lambda)
            f = self.client_clock(lam)
            main = self.main.solve(log_lambda, log_mu[0], main)
            fed = self.fed.solve(log_lambda, log_mu[1], fed)
            client_time = self.A * self.work / f
            total = client_time + server_time + fed.time_s + self.n * main.time_s
            residual = np.log(total / round_time)
            active = np.abs(residual) >= USER_TOLERANCE  # converged users stay where they are
            if not active.any():
                return {"log_lambda": log_lambda, "main": main, "fed": fed, "client_hz": f}, True
            slope = (np.where(f < self.scenario.split.client_cpu_hz, -client_time / 3.0, 0.0)
                     + fed.dtime_dlog_lambda + self.n * main.dtime_dlog_lambda) / total
            low = np.where(residual > 0, np.maximum(low, log_lambda), low)  # too slow: Lambda must grow
            high = np.where(residual < 0, np.minimum(high, log_lambda), high)
            step = np.clip(-residual / np.minimum(slope, -1e-300), -STEP_LIMIT, STEP_LIMIT)
            trial = log_lambda + step
            bisect = np.isfinite(low) & np.isfinite(high) & ((trial <= low) | (trial >= high))
            middle = 0.5 * (np.where(bisect, low, 0.0) + np.where(bisect, high, 0.0))
            log_lambda = np.where(active, np.where(bisect, middle, trial), log_lambda)
        return {"log_lambda": log_lambda, "main": main, "fed": fed, "client_hz": self.client_clock(np.exp(log_lambda))}, False

    def least_server_hz(self, round_time: float) -> float:
        """Below this server clock some user misses `round_time` even at its floor: the search keeps above it."""
        slack = round_time - self.floor
        return float(np.max((1.0 - self.A) * self.work / slack)) * (1.0 + 1e-13) if np.all(slack > 0) else math.inf

    # --- the outer search and the bounds ----------------------------------------------------------

    def cold_state(self) -> dict:
        split = self.scenario.split
        count = split.user_count
        kappa = self.kappa if self.kappa > 0 else 1e-30
        log_lambda = np.log(2.0 * self.rounds * kappa * (0.5 * split.client_cpu_hz) ** 3)
        state = {"log_lambda": log_lambda}
        log_mu = []
        for name, link, budget in (("main", self.main, split.bandwidth_main_hz), ("fed", self.fed, split.bandwidth_fed_hz)):
            state[name] = LinkState(np.zeros(count), np.log(link.c * count / budget))
            log_mu.append(float(np.median(log_lambda + math.log(link.m * link.bits) - 2.0 * math.log(budget / count))))
        least = self.least_server_hz(self.round_time * (1 - SHRINK))
        server = math.sqrt(least * split.server_cpu_hz) if least < split.server_cpu_hz else split.server_cpu_hz
        state["outer"] = np.array([*([] if self.equal_split else log_mu), math.log(server)])
        return state

    def residuals(self, outer: np.ndarray, state: dict):
        """Budgets ln(used / B (1 - SHRINK)) (free bandwidth only) and ln f_s - ln(the dual's f_s)."""
        split = self.scenario.split
        log_mu = (0.0, 0.0) if self.equal_split else (outer[0], outer[1])
        server = math.exp(outer[-1])
        users, ok = self.solve_users(log_mu, server, state, self.round_time * (1 - SHRINK))
        best_server = self.server_clock(np.exp(users["log_lambda"]))
        values = [] if self.equal_split else [
            math.log(users["main"].bandwidth_hz.sum() / (split.bandwidth_main_hz * (1 - SHRINK))),
            math.log(users["fed"].bandwidth_hz.sum() / (split.bandwidth_fed_hz * (1 - SHRINK)))]
        return np.array([*values, outer[-1] - math.log(best_server)]), {**users, "outer": outer}, ok

    def search(self, state: dict) -> tuple[dict, int, bool]:
        """Damped Newton on the outer values (implicit Jacobian), the server clock kept where every user can
        still meet its row; returns the final state, the steps and whether it converged."""
        split = self.scenario.split
        low = math.log(self.least_server_hz(self.round_time * (1 - SHRINK)))
        high = math.log(split.server_cpu_hz)
        outer = state["outer"].copy()
        outer[-1] = min(max(outer[-1], low), high)
        residual, state, ok = self.residuals(outer, state)
        for iteration in range(1, ITERATIONS + 1):
            norm = float(np.max(np.abs(residual)))
            if ok and norm < OUTER_TOLERANCE:
                return state, iteration, True
            if ok and outer[-1] <= low and residual[-1] > 0 and float(np.max(np.abs(residual[:-1]), initial=0)) \
                    < OUTER_TOLERANCE:
                return self.server_at_least(state, low), iteration, True
            jacobian = self.jacobian(state, outer)
            try:
                direction = np.linalg.solve(jacobian, -residual)
            except np.linalg.LinAlgError:
                return state, iteration, False
            direction *= min(1.0, STEP_LIMIT / max(float(np.max(np.abs(direction))), 1e-300))
            for _ in range(30):
                trial = outer + direction
                trial[-1] = min(max(trial[-1], low), high)
                trial_residual, trial_state, trial_ok = self.residuals(trial, state)
                if trial_ok and float(np.max(np.abs(trial_residual))) < norm:
                    break
                direction *= 0.5
            else:
                return state, iteration, False
            outer, residual, state, ok = trial, trial_residual, trial_state, trial_ok
        return state, ITERATIONS, False

    def jacobian(self, state: dict, outer: np.ndarray) -> np.ndarray:
        """d(residuals)/d(ln mu_s, ln mu_c, ln f_s) (ln f_s alone on the equal split): each user's ln Lambda
        moves to keep its row tight, d ln Lambda = -(d rt / d outer) / (d rt / d ln Lambda)."""
        main, fed = state["main"], state["fed"]
        lam = np.exp(state["log_lambda"])
        f = state["client_hz"]
        server = math.exp(outer[-1])
        client_time = self.A * self.work / f
        d_client = np.where(f < self.scenario.split.client_cpu_hz, -client_time / 3.0, 0.0)
        d_lambda = d_client + fed.dtime_dlog_lambda + self.n * main.dtime_dlog_lambda  # d rt / d ln Lambda
        # d rt / d outer: the main link's mu, the fed link's mu, the server clock
        d_outer = [-(1.0 - self.A) * self.work / server]
        if not self.equal_split:
            d_outer = [self.n * main.time_s * main.dlog_t_dlog_mu, fed.time_s * fed.dlog_t_dlog_mu, *d_outer]
        moves = [-d / d_lambda for d in d_outer]  # d ln Lambda / d outer_j, per user
        size = len(outer)
        jacobian = np.zeros((size, size))
        if not self.equal_split:
            for row, (link, own) in enumerate(((main, 0), (fed, 1))):
                used = link.bandwidth_hz.sum()
                for j, move in enumerate(moves):
                    dlog_b = link.dlog_b_dlog_lambda * move + (link.dlog_b_dlog_mu if j == own else 0.0)
                    jacobian[row, j] = float(link.bandwidth_hz @ dlog_b) / used
        free = self.server_clock(lam) < self.scenario.split.server_cpu_hz
        weighted = lam * self.work
        for j, move in enumerate(moves):
            jacobian[-1, j] = (1.0 if j == size - 1 else 0.0) - (float(weighted @ move) / (3.0 * weighted.sum())
                                                                if free else 0.0)
        return jacobian

    def server_at_least(self, state: dict, log_server: float) -> dict:
        """The server clock at its least (a user at its floor: clock at f^max, power at p^max on a fixed band,
        so its delay row no longer fixes its Lambda): that user's Lambda rises until the server clock's
        stationarity holds, f_s^3 = sum Lambda w / (2 I kappa_s W)."""
        server = math.exp(log_server)
        lam = np.exp(state["log_lambda"])
        deficit = 2.0 * self.rounds * self.server_kappa * self.work.sum() * server ** 3 - float(lam @ self.work)
        critical = int(np.argmin(self.round_time * (1 - SHRINK) - self.floor - (1 - self.A) * self.work / server))
        log_lambda = state["log_lambda"].copy()
        log_lambda[critical] = math.log(lam[critical] + max(deficit, 0.0) / self.work[critical])
        return {**state, "log_lambda": log_lambda}

    def lower_bound(self, state: dict) -> float:
        """D(Lambda, mu) at the state's multipliers: the Lagrangian's minimum, a lower bound on E*."""
        split = self.scenario.split
        lam = np.exp(state["log_lambda"])
        log_mu = (0.0, 0.0) if self.equal_split else (state["outer"][0], state["outer"][1])
        main = self.main.solve(state["log_lambda"], log_mu[0], state["main"])
        fed = self.fed.solve(state["log_lambda"], log_mu[1], state["fed"])
        f = self.client_clock(lam)
        client = self.rounds * self.kappa * self.A * self.work * f ** 2 + lam * self.A * self.work / f
        server_hz = self.server_clock(lam)
        server = (self.rounds * self.server_kappa * (1 - self.A) * self.work.sum() * server_hz ** 2
                  + (1 - self.A) * float(lam @ self.work) / server_hz)
        budgets = 0.0 if self.equal_split else (math.exp(log_mu[0]) * split.bandwidth_main_hz
                                                 + math.exp(log_mu[1]) * split.bandwidth_fed_hz)
        return float(client.sum() + server + main.value.sum() + fed.value.sum()
                     - self.round_time * lam.sum() - budgets)

    def allocation(self, state: dict, eta: float) -> EnergyAllocation:
        return allocation_with_energy(self.scenario, eta, self.max_delay_s, state["client_hz"],
                                      math.exp(state["outer"][-1]), state["main"].time_s, state["fed"].time_s,
                                      state["main"].bandwidth_hz, state["fed"].bandwidth_hz)

    def feasible(self, allocation: EnergyAllocation, eta: float) -> bool:
        """The allocation in numpy: every row of Problem (E) at this theta."""
        split, s = self.scenario.split, self.scenario
        per_round = (self.A * self.work / allocation.client_cpu_hz + (1 - self.A) * self.work / allocation.server_cpu_hz
                     + allocation.time_fed_s + self.n * allocation.time_main_s)
        return bool(np.all(per_round <= self.round_time)
                    and allocation.bandwidth_main_hz.sum() <= split.bandwidth_main_hz
                    and allocation.bandwidth_fed_hz.sum() <= split.bandwidth_fed_hz
                    and np.all(allocation.power_main_w <= s.power_main_max_w * (1 + 1e-9))
                    and np.all(allocation.power_fed_w <= s.power_fed_max_w * (1 + 1e-9))
                    and np.all(allocation.client_cpu_hz <= split.client_cpu_hz)
                    and allocation.server_cpu_hz <= split.server_cpu_hz)


def solve_energy_structured(scenario: EnergyScenario, rounds: float, log2_inverse: float, max_delay_s: float,
                            eta: float, equal_split: bool = False, start: dict | None = None,
                            gap: float = 1e-9) -> tuple[EnergyStructuredPoint, dict | None]:
    """Problem (E) at (I, L) (`eta` labels the allocation); returns the point and the state to warm-start a
    neighbour. The energy of the upper bound is the allocation's, recomputed by energy_parts."""
    started = time.perf_counter()
    problem = FixedTheta(scenario, rounds, log2_inverse, max_delay_s, equal_split)
    if not math.isfinite(problem.least_server_hz(problem.round_time * (1 - SHRINK))) or \
            problem.least_server_hz(problem.round_time * (1 - SHRINK)) > scenario.split.server_cpu_hz:
        return EnergyStructuredPoint(None, math.inf, math.inf, "infeasible", 0, time.perf_counter() - started), None
    state, iterations, converged = problem.search(start if start is not None else problem.cold_state())
    if not converged and start is not None:
        state, more, converged = problem.search(problem.cold_state())
        iterations += more
    lower = problem.lower_bound(state)
    allocation = problem.allocation(state, eta)
    feasible = problem.feasible(allocation, eta)
    upper = allocation.energy_j if feasible else math.inf
    point = EnergyStructuredPoint(allocation if feasible else None, upper, lower, "", iterations,
                                  time.perf_counter() - started)
    status = "optimal" if point.gap <= gap else ("gap not reached" if feasible else "no feasible allocation")
    return EnergyStructuredPoint(point.allocation, upper, lower, status, iterations, point.seconds), state


def dual_bound_at(scenario: EnergyScenario, state: dict, solved_rounds: float, theta1: float, theta2: float,
                  max_delay_s: float, equal_split: bool = False) -> float:
    """The Lagrangian dual function at another theta = (I0 L, I0) with the multipliers of a solve at
    `solved_rounds` held fixed: the delay rows' multipliers in the theta form (theta1 (compute + v t_s) +
    theta2 t_c <= T_max) are Lambda / I0, the budgets' mu as they are. For fixed multipliers the Lagrangian
    is affine in theta, so this is concave in theta and a lower bound on E*(theta) (weak duality)."""
    problem = FixedTheta(scenario, theta2, theta1 / theta2, max_delay_s, equal_split)
    shifted = {**state, "log_lambda": state["log_lambda"] + math.log(theta2 / solved_rounds)}
    return problem.lower_bound(shifted)
