"""Benchmark: the engines of the eta search, at network scale, in one run.

    ./fedsplit bench fedsllm_engines [small=50,500] [large=100000] [huge=1000000] [step=0.01]

Scenarios are drawn in memory by the generator (seed 1; a workbook cannot hold a million rows). Each
stage runs in its own child process, so the peak memory printed is that stage's own.
  1. small K: the full eta search (grid + refinement) by today's path (Ipopt, an NL file written per
     solve; the reference run), by Ipopt on an NLP built once, and by the structured engine; wall times,
     ratios against the reference, and the largest relative difference in T* against it.
  2. large K: the full eta search by the structured engine (aim: at most 60 s at K = 100,000).
  3. huge K: one fixed-eta structured solve, cold (aim: at most 30 s and 4 GiB at K = 1,000,000).
For the structured engine it prints what bounds its time: the budget Newton steps, the per-user
Newton sweeps (each one pass of a few logarithms over all users) and the time per user per sweep.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from omegaconf import OmegaConf


def _inputs(users: int):
    from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory

    return fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=users, seed=1)))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search_stage(users: int, engine: str, step: float) -> dict:
    """The full eta search (grid + refinement, no final re-solve) by one engine."""
    from solvers.fedsllm.search import Engine, EngineSettings, EtaSearch, eta_grid_for
    from solvers.runtime.ipopt import IpoptSolver

    inputs = _inputs(users)
    grid = eta_grid_for(inputs, step=step)
    started = time.perf_counter()
    search = EtaSearch(inputs, IpoptSolver(), engine=EngineSettings(Engine(engine), certify_max_users=0))
    search.sweep(grid)
    search.refine(grid, 1e-6)
    seconds = time.perf_counter() - started
    points = [p for p in search.result.points if p.stage != "final"]
    if not all(p.record.optimal for p in points):
        raise RuntimeError(f"{engine} at K={users}: a solve failed")
    user_sweeps = getattr(search.engine, "user_sweeps", 0)
    return {"users": users, "engine": engine, "seconds": seconds, "T": search.result.best.T,
            "eta": search.result.best.eta, "solves": len(points),
            "iterations": sum(p.record.iterations for p in points), "user_sweeps": user_sweeps,
            "worst_gap": max((p.gap for p in points if p.gap == p.gap), default=float("nan")),
            "peak_mib": _peak_mib()}


def fixed_eta_stage(users: int, eta: float) -> dict:
    """One cold fixed-eta solve by the structured engine."""
    from solvers.fedsllm.scenario import SplitScenario
    from solvers.fedsllm.structured import solve_structured

    scenario = SplitScenario.from_inputs(_inputs(users))
    started = time.perf_counter()
    point = solve_structured(scenario, eta)
    seconds = time.perf_counter() - started
    if not point.converged:
        raise RuntimeError(f"structured at K={users}: {point.status}")
    return {"users": users, "engine": "structured, one eta", "seconds": seconds, "T": point.T, "eta": eta,
            "solves": 1, "iterations": point.iterations, "user_sweeps": point.user_iterations,
            "worst_gap": point.gap, "peak_mib": _peak_mib()}


def in_child(function, *arguments) -> dict:
    """`function(*arguments)` in a fresh process (its peak memory is its own)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"small": [50, 500], "large": [100_000], "huge": [1_000_000], "step": 0.01},
                             OmegaConf.from_dotlist(argv))
    rows = []
    for users in config.small:
        reference = in_child(search_stage, int(users), "ipopt_rewrite", float(config.step))
        rows.append((reference, reference))
        for engine in ("ipopt", "structured"):
            rows.append((in_child(search_stage, int(users), engine, float(config.step)), reference))
        print(f"K = {users}: done", file=sys.stderr)
    for users in config.large:
        rows.append((in_child(search_stage, int(users), "structured", float(config.step)), None))
        print(f"K = {users}: done", file=sys.stderr)
    for users in config.huge:
        rows.append((in_child(fixed_eta_stage, int(users), 0.8), None))
        print(f"K = {users}: done", file=sys.stderr)

    print()
    print(f"{'K':>8} {'engine':<26} {'solves':>6} {'seconds':>9} {'speed-up':>8} {'T*':>16} {'rel dT*':>9} "
          f"{'worst gap':>9} {'steps':>6} {'sweeps':>7} {'us/user/sweep':>13} {'peak MiB':>8}")
    for row, reference in rows:
        speed_up = f"{reference['seconds'] / row['seconds']:.1f}x" if reference else "-"
        difference = f"{abs(row['T'] - reference['T']) / reference['T']:.1e}" if reference else "-"
        per_sweep = (f"{row['seconds'] / row['user_sweeps'] / row['users'] * 1e6:.3f}" if row["user_sweeps"]
                     else "-")
        print(f"{row['users']:>8} {row['engine']:<26} {row['solves']:>6} {row['seconds']:>9.2f} {speed_up:>8} "
              f"{row['T']:>16.9f} {difference:>9} {row['worst_gap']:>9.1e} {row['iterations']:>6} "
              f"{row['user_sweeps'] or '-':>7} {per_sweep:>13} {row['peak_mib']:>8.0f}")
    print("speed-up: against today's path (Ipopt writing the NL file per solve) at the same K; 'steps': Ipopt "
          "iterations or the structured engine's budget Newton steps; 'sweeps': per-user Newton passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
