"""Benchmark: the structured eta search at network scale, the compiled kernel against the numpy solver.

    ./fedsplit bench fedsllm_batched [large=100000] [huge=1000000] [huge_reference_solves=3] [step=0.01]

Scenarios are drawn in memory by the generator (seed 1). Each stage runs in its own child process, so
the peak resident memory printed (resource.getrusage) is that stage's own.
  1. large K: the full eta search of the main job (grid of `step`, Brent refinement to 1e-6, every point
     certified by its duality gap, no final Ipopt re-solve) by the structured engine on the numpy solver
     (the reference) and on the compiled kernel; wall times, their ratio, T* and eta* of both.
     Aim: at most 15 s with the kernel at K = 100,000.
  2. huge K: the same search on the kernel (aim: at most 150 s and 4 GiB at K = 1,000,000). The numpy
     solver would take about 4 minutes of CPU there, so its reference is the first `huge_reference_solves`
     grid points of the same search, warm-started alike; the ratio is per solve.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from omegaconf import OmegaConf


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search_stage(users: int, solver: str, step: float, grid_points: int | None = None) -> dict:
    """The structured eta search (grid, then refinement unless `grid_points` limits the grid)."""
    from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory
    from solvers.fedsllm.engines import Structured
    from solvers.fedsllm.search import Engine, EngineSettings, EtaGrid, EtaSearch, eta_grid_for
    from solvers.fedsllm.structured import solve_structured
    from solvers.runtime.ipopt import IpoptSolver

    inputs = fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=users, seed=1)))
    grid = eta_grid_for(inputs, step=step)
    if grid_points is not None:
        grid = EtaGrid(grid.step, grid.low, grid.low + (grid_points - 1) * grid.step)
    settings = EngineSettings(Engine.structured, certify_max_users=0)
    started, cpu = time.perf_counter(), time.process_time()
    search = EtaSearch(inputs, IpoptSolver(), engine=settings)
    if solver == "numpy":
        search.engine = Structured(inputs, settings.gap, solve_structured)
    search.sweep(grid)
    if grid_points is None:
        search.refine(grid, 1e-6)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    points = search.result.points
    if not all(p.record.optimal for p in points):
        raise RuntimeError(f"{solver} at K={users}: a solve failed")
    return {"users": users, "solver": solver, "seconds": seconds, "cpu": cpu, "solves": len(points),
            "T": search.result.best.T, "eta": search.result.best.eta,
            "worst_gap": max(p.gap for p in points), "peak_mib": _peak_mib()}


def in_child(function, *arguments) -> dict:
    """`function(*arguments)` in a fresh process (its peak memory is its own)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"large": [100_000], "huge": [1_000_000], "huge_reference_solves": 3, "step": 0.01},
                             OmegaConf.from_dotlist(argv))
    step = float(config.step)
    rows = []
    for users in config.large:
        reference = in_child(search_stage, int(users), "numpy", step)
        compiled = in_child(search_stage, int(users), "compiled", step)
        rows += [(reference, None), (compiled, reference)]
        print(f"K = {users}: done", file=sys.stderr)
    for users in config.huge:
        solves = int(config.huge_reference_solves)
        reference = in_child(search_stage, int(users), "numpy", step, solves)
        first = in_child(search_stage, int(users), "compiled", step, solves)
        compiled = in_child(search_stage, int(users), "compiled", step)
        rows += [(reference, None), (first, reference), (compiled, None)]
        print(f"K = {users}: done", file=sys.stderr)
    print()
    print(f"{'K':>9} {'solver':<9} {'solves':>6} {'seconds':>9} {'CPU s':>8} {'s/solve':>8} {'speed-up':>8} "
          f"{'T*':>18} {'eta*':>10} {'worst gap':>9} {'peak MiB':>8}")
    for row, reference in rows:
        per_solve = row["seconds"] / row["solves"]
        speed_up = f"{reference['seconds'] / reference['solves'] / per_solve:.1f}x" if reference else "-"
        print(f"{row['users']:>9} {row['solver']:<9} {row['solves']:>6} {row['seconds']:>9.2f} {row['cpu']:>8.2f} "
              f"{per_solve:>8.3f} {speed_up:>8} {row['T']:>18.9f} {row['eta']:>10.7f} {row['worst_gap']:>9.1e} "
              f"{row['peak_mib']:>8.0f}")
    print("speed-up: per solve, against the numpy solver in the line above (the same etas, warm-started alike); "
          f"at K = {min(config.huge, default=0):,} the numpy reference solves only the first "
          f"{config.huge_reference_solves} grid points. Aims: K = 100,000 at most 15 s, K = 1,000,000 at most "
          "150 s within 4096 MiB. CPU s: the stage's own processor time (the machine's load average over the "
          f"last 15 minutes: {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
