"""The batched structured engine: Problem (17) for many scenarios at once (solvers/fedsllm/kernels.py).

A `ScenarioBatch` holds the users of many `SplitScenario`s in one set of arrays, scenario s owning
users offsets[s]:offsets[s+1], and its per-scenario constants in one table. A `BatchState` holds each
scenario's last point (every user's ln z, ln w and the scenario's R, ln mu, round floor): the warm start
of its next eta. `solve_fixed_eta` solves every active scenario at its own eta in one compiled pass and
returns each scenario's bounds and status; a scenario that fails is only marked failed.

`solve_structured_compiled` is `solvers.fedsllm.structured.solve_structured` on the compiled kernel (one
scenario, the same arguments and the same `StructuredPoint`), for callers that solve one large
scenario at many etas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from solvers.fedsllm import kernels
from solvers.fedsllm.scenario import SplitScenario
from solvers.runtime.ipopt import warm_then_cold
from solvers.fedsllm.structured import (
    BACKTRACK_LIMIT,
    DEFAULT_GAP,
    OUTER_ITERATION_LIMIT,
    OUTER_TOLERANCE,
    SMALL_SNR,
    USER_ITERATION_LIMIT,
    USER_STEP_LIMIT,
    USER_TOLERANCE,
    Multipliers,
    StructuredPoint,
    _State,
)

STATUS = {kernels.OPTIMAL: "optimal", kernels.GAP_NOT_REACHED: "gap not reached",
          kernels.NO_CONVERGENCE: "no convergence"}


def kernel_limits() -> np.ndarray:
    """solvers.fedsllm.structured's tolerances in the order solvers.fedsllm.kernels reads them."""
    limits = np.empty(7)
    limits[[kernels.SMALL_SNR, kernels.STEP_LIMIT, kernels.USER_TOL, kernels.USER_ITERS, kernels.OUTER_ITERS,
            kernels.OUTER_TOL, kernels.BACKTRACKS]] = (SMALL_SNR, USER_STEP_LIMIT, USER_TOLERANCE,
                                                       USER_ITERATION_LIMIT, OUTER_ITERATION_LIMIT,
                                                       OUTER_TOLERANCE, BACKTRACK_LIMIT)
    return limits


@dataclass(frozen=True)
class ScenarioBatch:
    """Problem (17)'s data of many scenarios (SI units), users concatenated in scenario order."""

    offsets: np.ndarray  # (S + 1,) int64: scenario s owns users offsets[s]:offsets[s + 1]
    scenarios: np.ndarray  # (S, 6): a, v, s, s_c, B_s, B_c (columns solvers.fedsllm.kernels.A ... BUDGET_FED)
    data: tuple[np.ndarray, ...]  # per user: c_s, c_c, alpha_s, alpha_c, E_k, tau's factor, its slope in A,
    # 2 ln c_c - 2 ln c_s (the order solvers.fedsllm.kernels unpacks)

    @classmethod
    def of(cls, scenarios: Sequence[SplitScenario], client_share: float | None = None) -> "ScenarioBatch":
        """The batch of `scenarios`, each at its own client share (or all at `client_share`)."""
        counts = np.array([s.user_count for s in scenarios], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        table = np.array([[s.a, s.v, s.smashed_bits, s.upload_bits, s.bandwidth_main_hz, s.bandwidth_fed_hz]
                          for s in scenarios], dtype=float).reshape(len(scenarios), 6)

        def joined(values) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate([np.broadcast_to(np.asarray(v, float), (s.user_count,))
                                                        for v, s in zip(values, scenarios)]))

        def compute_factor(s: SplitScenario) -> np.ndarray:
            share = s.client_share if client_share is None else client_share
            return share / s.client_cpu_hz + (1.0 - share) / s.server_cpu_hz  # (10) as SplitScenario has it

        data = (joined(s.power_to_noise_main_hz for s in scenarios),
                joined(s.power_to_noise_fed_hz for s in scenarios),
                joined(s.min_time_main_s for s in scenarios),
                joined(s.min_time_fed_s for s in scenarios),
                joined(s.compute_cycles for s in scenarios),
                joined(compute_factor(s) for s in scenarios),
                joined(1.0 / s.client_cpu_hz - 1.0 / s.server_cpu_hz for s in scenarios),
                joined(2.0 * np.log(s.power_to_noise_fed_hz) - 2.0 * np.log(s.power_to_noise_main_hz)
                       for s in scenarios))
        return cls(offsets, table, data)

    @property
    def count(self) -> int:
        return len(self.scenarios)

    @property
    def users(self) -> int:
        return int(self.offsets[-1])


class BatchState:
    """Each scenario's last point: its users' ln z, ln w and its R, ln mu and round floor; `solved[s]`
    says whether scenario s has one (else its next solve starts cold, from the equal split)."""

    def __init__(self, batch: ScenarioBatch):
        # Per user ln z, ln w and their derivatives in ln R and ln mu, twice: the point and a trial point.
        self.users = tuple(np.zeros(batch.users) for _ in range(6))
        self.spare = tuple(np.zeros(batch.users) for _ in range(6))
        self.values = np.zeros((batch.count, 3))  # solvers.fedsllm.kernels.ROUND_TIME, LOG_MU, ROUND_FLOOR
        self.solved = np.zeros(batch.count, dtype=bool)

    @property
    def log_z(self) -> np.ndarray:
        return self.users[0]

    @property
    def log_w(self) -> np.ndarray:
        return self.users[1]


@dataclass(frozen=True)
class BatchPoints:
    """Problem (17) at one eta per scenario (nan where a scenario was not solved)."""

    etas: np.ndarray
    T: np.ndarray  # upper bounds: feasible allocations' delays (15)
    lower_bound: np.ndarray  # Lagrangian lower bounds on T*(eta)
    status: np.ndarray  # solvers.fedsllm.kernels status codes (STATUS names them); -1: not solved
    iterations: np.ndarray
    sweeps: np.ndarray
    share_slope: np.ndarray
    lambda_main: np.ndarray
    lambda_fed: np.ndarray

    @property
    def converged(self) -> np.ndarray:
        return self.status == kernels.OPTIMAL


_NO_DETAILS = np.empty((6, 0))


def solve_fixed_eta(batch: ScenarioBatch, state: BatchState, etas: np.ndarray, active: np.ndarray | None = None,
                    gap: float = DEFAULT_GAP, retry_cold: bool = True, details: np.ndarray | None = None
                    ) -> BatchPoints:
    """Problem (17) for every active scenario at its eta, warm from its state where it has one (with
    `retry_cold`, a warm start that misses the gap is retried cold); each scenario's final point becomes
    its state."""
    etas = np.ascontiguousarray(np.broadcast_to(np.asarray(etas, float), (batch.count,)))
    active = np.ones(batch.count, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    results = np.full((batch.count, 8), math.nan)
    results[:, kernels.STATUS] = -1
    kernels.solve_batch(batch.offsets, active, etas, state.solved.copy(), retry_cold, gap, batch.scenarios,
                        batch.data, state.values, state.users, state.spare, kernel_limits(), results,
                        _NO_DETAILS if details is None else details)
    state.solved |= active
    return BatchPoints(np.where(active, etas, math.nan), results[:, kernels.T], results[:, kernels.LOWER],
                       results[:, kernels.STATUS].astype(int), results[:, kernels.ITERATIONS],
                       results[:, kernels.SWEEPS], results[:, kernels.SHARE_SLOPE], results[:, kernels.LAMBDA_MAIN],
                       results[:, kernels.LAMBDA_FED])


class _LastScenario:
    """The batch and buffers of the scenario solved last: an eta search solves one scenario many times,
    and at a million users building them costs a tenth of a solve."""

    scenario: SplitScenario | None = None
    client_share: float | None = None
    batch: ScenarioBatch | None = None
    state: BatchState | None = None

    @classmethod
    def prepared(cls, scenario: SplitScenario, client_share: float | None) -> tuple[ScenarioBatch, BatchState]:
        if cls.scenario is not scenario or cls.client_share != client_share:
            cls.scenario, cls.client_share = scenario, client_share
            cls.batch = ScenarioBatch.of([scenario], client_share)
            cls.state = BatchState(cls.batch)
        return cls.batch, cls.state


def solve_structured_compiled(scenario: SplitScenario, eta: float, start: StructuredPoint | None = None,
                              gap: float = DEFAULT_GAP, client_share: float | None = None) -> StructuredPoint:
    """solvers.fedsllm.structured.solve_structured on the compiled kernel: the same point, bounds and status;
    a warm start that fails is retried once cold (the point counts the per-user sweeps of both). `start`: a
    StructuredPoint, or anything with its `state` (solvers.fedsllm.global_eta.WarmStart)."""
    points = warm_then_cold(lambda warm: _solve_compiled_at(scenario, eta, start if warm else None, gap, client_share),
                            start is not None, lambda point: point.converged)
    if len(points) == 1:
        return points[0]
    return replace(points[-1], user_iterations=sum(point.user_iterations for point in points))


def _solve_compiled_at(scenario: SplitScenario, eta: float, start: StructuredPoint | None, gap: float,
                       client_share: float | None) -> StructuredPoint:
    """One compiled solve of Problem (17) at `eta`, from `start` or cold."""
    started = time.perf_counter()
    batch, state = _LastScenario.prepared(scenario, client_share)
    state.solved[0] = start is not None
    if start is not None:
        state.log_z[:], state.log_w[:] = start.state.log_z, start.state.log_w
        state.values[0] = start.state.round_time, start.state.log_mu, start.state.round_floor
    details = np.empty((6, scenario.user_count))
    point = solve_fixed_eta(batch, state, np.array([eta]), gap=gap, retry_cold=False, details=details)
    bandwidth_main, bandwidth_fed, time_main, time_fed, nu, log_w_best = details  # views of one array
    status = STATUS[int(point.status[0])]
    round_time, log_mu, round_floor = state.values[0]
    log_z, log_w = state.log_z.copy(), state.log_w.copy()  # the buffers serve the next solve
    return StructuredPoint(
        eta=eta, T=float(point.T[0]), lower_bound=float(point.lower_bound[0]),
        client_share=scenario.client_share if client_share is None else client_share,
        share_slope=float(point.share_slope[0]),
        multipliers=Multipliers(nu, float(point.lambda_main[0]), float(point.lambda_fed[0]), log_z, log_w_best),
        converged=status == "optimal", status=status, iterations=int(point.iterations[0]),
        user_iterations=int(point.sweeps[0]), seconds=time.perf_counter() - started,
        bandwidth_main_hz=bandwidth_main, bandwidth_fed_hz=bandwidth_fed, time_main_s=time_main,
        time_fed_s=time_fed,
        state=_State(log_z, log_w, float(round_time), float(log_mu), float(round_floor)))
