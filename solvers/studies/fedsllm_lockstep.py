"""Eta searches of many scenarios in lockstep: the grid, then bounded Brent, every scenario one step per round.

`LockstepBrent` is scipy's bounded Brent method (`minimize_scalar(method="bounded")`, which the per-task
path calls through solvers.fedsllm.search.refine_between_neighbours) with its state held per scenario in arrays:
each round asks every running scenario for its next eta, the caller evaluates them all at once, and
each scenario takes the same branch scipy would take on its own, so it visits the same etas and stops
at the same point.

`EqualSplitDelays` is the equal split (B/K on both links, `SplitScenario.equal_split_delay_s`) of every
scenario of a batch at once: per-user arithmetic in numpy and each scenario's maximum over its users
(the EB and BA baselines). `equal_bandwidth_search` is EB's search (the workbook's eta grid, then Brent
between the best point's neighbours) for all scenarios together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from solvers.fedsllm.batched import BatchState, ScenarioBatch, solve_fixed_eta
from solvers.fedsllm.kernels import OPTIMAL
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.search import EtaGrid

GOLDEN_MEAN = 0.5 * (3.0 - math.sqrt(5.0))
SQRT_EPS = math.sqrt(2.2e-16)
BRENT_EVALUATION_LIMIT = 500  # scipy's default maxiter


class LockstepBrent:
    """Bounded Brent minimisation on [low[s], high[s]] for every scenario s with running[s]."""

    def __init__(self, low: np.ndarray, high: np.ndarray, xatol: float, running: np.ndarray):
        self.a, self.b = np.array(low, float), np.array(high, float)
        self.xatol = xatol
        self.running = np.array(running, bool)
        self.fulc = self.a + GOLDEN_MEAN * (self.b - self.a)
        self.nfc, self.xf = self.fulc.copy(), self.fulc.copy()
        self.rat, self.e = np.zeros_like(self.a), np.zeros_like(self.a)
        self.x = self.xf.copy()  # the eta each running scenario asks for next
        self.fx = self.ffulc = self.fnfc = None
        self.evaluations = np.zeros(len(self.a), dtype=int)

    def tell(self, values: np.ndarray) -> None:
        """The objective at `self.x` for the running scenarios (entries of the others are ignored)."""
        values = np.asarray(values, float)
        live = self.running
        self.evaluations[live] += 1
        if self.fx is None:  # the first point, the golden section of the interval
            self.fx = np.where(live, values, math.inf)
            self.ffulc, self.fnfc = self.fx.copy(), self.fx.copy()
        else:
            self._update(values, live)
        self._plan(live)

    def _update(self, fu: np.ndarray, live: np.ndarray) -> None:
        x, xf, fx, nfc, fnfc, fulc, ffulc = self.x, self.xf, self.fx, self.nfc, self.fnfc, self.fulc, self.ffulc
        better = live & (fu <= fx)
        worse = live & ~(fu <= fx)
        right = x >= xf
        a = np.where(better & right, xf, np.where(worse & (x < xf), x, self.a))
        b = np.where(better & ~right, xf, np.where(worse & ~(x < xf), x, self.b))
        second = worse & ((fu <= fnfc) | (nfc == xf))  # x becomes the second best point
        third = worse & ~second & ((fu <= ffulc) | (fulc == xf) | (fulc == nfc))
        self.fulc = np.where(better | second, nfc, np.where(third, x, fulc))
        self.ffulc = np.where(better | second, fnfc, np.where(third, fu, ffulc))
        self.nfc = np.where(better, xf, np.where(second, x, nfc))
        self.fnfc = np.where(better, fx, np.where(second, fu, fnfc))
        self.xf = np.where(better, x, xf)
        self.fx = np.where(better, fu, fx)
        self.a, self.b = a, b

    def _plan(self, live: np.ndarray) -> None:
        """scipy's stopping test, then the next point by a parabolic or a golden-section step."""
        a, b, xf, fx = self.a, self.b, self.xf, self.fx
        xm = 0.5 * (a + b)
        tol1 = SQRT_EPS * np.abs(xf) + self.xatol / 3.0
        tol2 = 2.0 * tol1
        self.running = live & (np.abs(xf - xm) > (tol2 - 0.5 * (b - a))) & (self.evaluations < BRENT_EVALUATION_LIMIT)
        go = self.running
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            try_parabola = go & (np.abs(self.e) > tol1)
            r = (xf - self.nfc) * (fx - self.ffulc)
            q = (xf - self.fulc) * (fx - self.fnfc)
            p = (xf - self.fulc) * q - (xf - self.nfc) * r
            q = 2.0 * (q - r)
            p = np.where(q > 0.0, -p, p)
            q = np.abs(q)
            previous_e = self.e
            e = np.where(try_parabola, self.rat, self.e)
            parabolic = try_parabola & (np.abs(p) < np.abs(0.5 * q * previous_e)) & (p > q * (a - xf)) & (p < q * (b - xf))
            rat = np.where(parabolic, (p + 0.0) / q, self.rat)
            x = xf + rat
            near_end = parabolic & (((x - a) < tol2) | ((b - x) < tol2))
            rat = np.where(near_end, tol1 * (np.sign(xm - xf) + ((xm - xf) == 0)), rat)
            golden = go & ~parabolic
            e = np.where(golden, np.where(xf >= xm, a - xf, b - xf), e)
            rat = np.where(golden, GOLDEN_MEAN * e, rat)
            step = (np.sign(rat) + (rat == 0)) * np.maximum(np.abs(rat), tol1)
        self.e = np.where(go, e, self.e)
        self.rat = np.where(go, rat, self.rat)
        self.x = np.where(go, xf + step, self.x)

    def minimise(self, objective: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> "LockstepBrent":
        """Runs to the end with `objective(etas, running)` giving the values of the running scenarios."""
        if self.running.any():
            self.tell(objective(self.x, self.running.copy()))
        while self.running.any():
            self.tell(objective(self.x, self.running.copy()))
        return self


def refine_brackets(grid: EtaGrid, centres: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """solvers.fedsllm.search.EtaGrid.neighbours and refinable for every centre: (low, high, refinable)."""
    low = np.maximum(grid.low, centres - grid.step)
    high = np.minimum(grid.high, centres + grid.step)
    return low, high, high - low > tolerance


@dataclass(frozen=True)
class EqualSplitDelays:
    """T(eta) of every scenario on the equal split, from per-user arrays (users in scenario order)."""

    offsets: np.ndarray
    a: np.ndarray  # per scenario
    v: np.ndarray
    compute_cycles: np.ndarray  # per user
    compute_factor: np.ndarray  # share/f_k + (1 - share)/f_s
    time_main_s: np.ndarray  # the equal split's upload times
    time_fed_s: np.ndarray

    @classmethod
    def of(cls, scenarios: Sequence[SplitScenario]) -> "EqualSplitDelays":
        counts = [s.user_count for s in scenarios]
        times = [s.equal_split_times_s() for s in scenarios]
        return cls(np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
                   np.array([s.a for s in scenarios]), np.array([s.v for s in scenarios]),
                   np.concatenate([s.compute_cycles for s in scenarios]),
                   np.concatenate([s.client_share / s.client_cpu_hz + (1.0 - s.client_share) / s.server_cpu_hz
                                   for s in scenarios]),
                   np.concatenate([t[0] for t in times]), np.concatenate([t[1] for t in times]))

    def delays(self, etas: np.ndarray) -> np.ndarray:
        """(15)'s largest user delay of each scenario at its eta: rounds (8) times tau + t_c + n t_s, in
        SplitScenario.user_delays_s's order of operations (so the same numbers)."""
        counts = np.diff(self.offsets)
        etas = np.broadcast_to(np.asarray(etas, float), counts.shape)
        work = np.array([math.log2(1.0 / eta) for eta in etas])  # as SplitScenario: math.log2
        per_user = np.repeat(work, counts)
        compute = self.compute_cycles * per_user * self.compute_factor
        round_time = compute + self.time_fed_s + np.repeat(self.v * work, counts) * self.time_main_s
        delays = np.repeat(self.a / (1.0 - etas), counts) * round_time
        return np.maximum.reduceat(delays, self.offsets[:-1])


def equal_bandwidth_search(delays: EqualSplitDelays, grid: EtaGrid, fixed_eta: float,
                           tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """EB for every scenario (solvers.fedsllm.baselines.EqualBandwidth.best): the grid and the fixed eta,
    the first best point, then Brent between its grid neighbours, kept where it is lower. Returns T, eta."""
    etas = sorted(set(grid.points()) | {fixed_eta})
    table = np.column_stack([delays.delays(eta) for eta in etas])
    first_best = np.argmin(table, axis=1)
    best_eta = np.asarray(etas)[first_best]
    best_T = table[np.arange(len(table)), first_best]
    low, high, refinable = refine_brackets(grid, best_eta, tolerance)

    def objective(x: np.ndarray, running: np.ndarray) -> np.ndarray:
        return delays.delays(np.where(running, x, 0.5))

    brent = LockstepBrent(low, high, tolerance, refinable).minimise(objective)
    improved = refinable & (brent.fx < best_T)
    return np.where(improved, brent.fx, best_T), np.where(improved, brent.xf, best_eta)


class SolvedPoints:
    """Each scenario's structured solves in the order they were made (the per-task EtaSearch's `points`):
    eta, T, lower bound and status. As the per-task path's Structured engine, each solve is warm from the
    nearer of the scenario's last and best point (the last on a tie; cold when it has none), retried cold
    when that misses the gap. A scenario stops at its first failed solve (any failure fails its search),
    whose message `failure` keeps in the per-task path's words."""

    def __init__(self, batch: ScenarioBatch, gap: float):
        self.batch, self.gap = batch, gap
        self.state = BatchState(batch)
        self.best_users = (np.zeros(batch.users), np.zeros(batch.users))  # the best point's ln z, ln w
        self.best_values = np.zeros((batch.count, 3))
        self.best_eta, self.last_eta = np.full(batch.count, math.nan), np.full(batch.count, math.nan)
        self.best_T = np.full(batch.count, math.inf)
        self.count = np.zeros(batch.count, dtype=int)
        self.etas = np.full((batch.count, 16), math.nan)
        self.T, self.lower_bound = np.full_like(self.etas, math.nan), np.full_like(self.etas, math.nan)
        self.status = np.full(self.etas.shape, -1, dtype=int)
        self.alive = np.ones(batch.count, dtype=bool)
        self.failure = [""] * batch.count

    def _users_of(self, scenarios: np.ndarray) -> np.ndarray:
        return np.repeat(scenarios, np.diff(self.batch.offsets))

    def solve(self, etas: np.ndarray, active: np.ndarray, stage: str) -> None:
        """One new solve for every active scenario still alive, at its eta."""
        etas = np.ascontiguousarray(np.broadcast_to(np.asarray(etas, float), (self.batch.count,)))
        new = active & self.alive
        if not new.any():
            return
        with np.errstate(invalid="ignore"):
            from_best = new & (np.abs(self.best_eta - etas) < np.abs(self.last_eta - etas))
        if from_best.any():
            users = self._users_of(from_best)
            for working, best in zip(self.state.users[:2], self.best_users):
                working[users] = best[users]
            self.state.values[from_best] = self.best_values[from_best]
        points = solve_fixed_eta(self.batch, self.state, etas, new, self.gap)
        if self.count.max() >= self.etas.shape[1]:
            self._grow()
        at = self.count[new]
        self.etas[new, at], self.T[new, at] = etas[new], points.T[new]
        self.lower_bound[new, at], self.status[new, at] = points.lower_bound[new], points.status[new]
        self.count[new] += 1
        ok = new & (points.status == OPTIMAL)
        self.last_eta[ok] = etas[ok]
        better = ok & (points.T < self.best_T)
        if better.any():
            users = self._users_of(better)
            for working, best in zip(self.state.users[:2], self.best_users):
                best[users] = working[users]
            self.best_values[better] = self.state.values[better]
            self.best_eta[better], self.best_T[better] = etas[better], points.T[better]
        for s in np.flatnonzero(new & ~ok):
            self.alive[s] = False
            self.failure[s] = _failure_message(etas[s], stage, points, s, self.gap)

    def delay(self, etas: np.ndarray, active: np.ndarray, stage: str = "refine") -> np.ndarray:
        """A new solve at each active scenario's eta; T*(eta) there (inf where it failed)."""
        active = active & self.alive
        self.solve(etas, active, stage)
        last = np.maximum(self.count - 1, 0)
        rows = np.arange(self.batch.count)
        value = np.where(self.status[rows, last] == OPTIMAL, self.T[rows, last], math.inf)
        return np.where(active, value, math.nan)

    def solved(self, etas: np.ndarray) -> np.ndarray:
        """Whether each scenario has already solved its eta."""
        with np.errstate(invalid="ignore"):
            return (self.etas == np.asarray(etas, float)[:, None]).any(axis=1)

    def _grow(self) -> None:
        extra = self.etas.shape[1]
        self.etas = np.hstack((self.etas, np.full_like(self.etas, math.nan)))
        self.T = np.hstack((self.T, np.full_like(self.T, math.nan)))
        self.lower_bound = np.hstack((self.lower_bound, np.full_like(self.lower_bound, math.nan)))
        self.status = np.hstack((self.status, np.full((len(self.status), extra), -1, dtype=int)))

    def best(self, columns: int | None = None) -> np.ndarray:
        """Each scenario's column of its lowest T*(eta) among its first `columns` solves (all: None), the
        first one on ties (the per-task path's strict improvement)."""
        values = np.where(self.status == OPTIMAL, self.T, math.inf)
        index = np.arange(self.etas.shape[1])[None, :]
        values[(index >= self.count[:, None]) | (index >= (columns or self.etas.shape[1]))] = math.inf
        return np.argmin(values, axis=1)


def _failure_message(eta: float, stage: str, points, s: int, gap: float) -> str:
    """solvers.fedsllm.search.EtaSearch's message for a failed structured solve."""
    from solvers.fedsllm.batched import STATUS  # noqa: PLC0415

    T, lower = float(points.T[s]), float(points.lower_bound[s])
    relative = max(0.0, (T - lower) / T) if math.isfinite(lower) and math.isfinite(T) else math.nan
    iterations, sweeps = int(points.iterations[s]), int(points.sweeps[s])
    message = (f"T in [{lower:.12g}, {T:.12g}] s, relative gap {relative:.2e} (target {gap:g}); {iterations} "
               f"budget steps, {sweeps} per-user sweeps")
    return (f"eta = {eta:.6g} ({stage}): the structured engine stopped with status '{STATUS[int(points.status[s])]}' "
            f"after {iterations} iterations ({message})")


@dataclass(frozen=True)
class StudySearch:
    """The per-task path's eta search for Proposed (solvers.studies.fedsllm._fe_and_searched_proposed, the
    main job's EtaSearch.run with extra etas)."""

    grid: EtaGrid  # the coarse grid (STUDY_GRID_STEP)
    fixed_eta: float  # FE's eta, an extra eta
    refine_tolerance: float
    solve_limit: int


def searched_proposed(points: SolvedPoints, search: StudySearch, eb_etas: np.ndarray) -> np.ndarray:
    """EtaSearch.run for every scenario in lockstep: the grid in its order, Brent between the best grid
    point's neighbours, then the fixed and EB's eta where not solved yet. Returns each scenario's best
    column in `points` (scenarios with a failure are marked in `points.alive`)."""
    count = points.batch.count
    everyone = np.ones(count, dtype=bool)
    grid_etas = search.grid.points()
    for eta in grid_etas:
        points.solve(np.full(count, eta), everyone, "grid")
    rows = np.arange(count)
    best_grid = points.etas[rows, points.best(len(grid_etas))]
    low, high, refinable = refine_brackets(search.grid, best_grid, search.refine_tolerance)
    brent = LockstepBrent(low, high, search.refine_tolerance, refinable & points.alive)
    while brent.running.any():
        values = points.delay(brent.x, brent.running.copy())
        brent.running &= points.alive  # a failed solve ends that scenario's search
        brent.tell(values)
    extras = (np.full(count, search.fixed_eta), np.asarray(eb_etas, float))
    unsolved = [~points.solved(extra) for extra in extras]  # before either is solved, as EtaSearch.run
    for extra, new in zip(extras, unsolved):
        points.solve(extra, new, "extra")
    return points.best()
