"""Benchmark: the eta search against a naive loop, in one process.

    ./fedsplit bench fedsllm_eta_search [users=50,500] [step=0.01]

For each scenario size K (drawn by data.fedsllm.generate with seed 1) it runs over the
same eta grid:
  - search: Ipopt on one NLP built once, eta moved by its bounds, warm starts with
    multipliers (solver.engine=ipopt, what solvers.run uses up to ipopt_max_users),
  - naive:  a fresh Pyomo model and a cold Ipopt start at every eta,
and prints both wall times, their ratio (naive / search), the Ipopt iterations,
the largest relative difference in T between the two, and the peak resident
memory. Refinement is left out of both so they solve exactly the same points.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
from omegaconf import OmegaConf

from data.fedsllm.inputs import load_fedsllm
from data.fedsllm.generate import ScenarioSettings, draw_users, write_fedsllm_workbook
from models.fedsllm import build_problem17
from solvers.fedsllm.search import Engine, EngineSettings, EtaSearch, eta_grid_for
from solvers.runtime.ipopt import IpoptSolver
from solvers.runtime.progress import Progress


def scenario(users: int, folder: Path):
    path = write_fedsllm_workbook(folder / f"bench-{users}.xlsx", draw_users(ScenarioSettings(users=users, seed=1)))
    return load_fedsllm(path)


def run_search(inputs, grid) -> tuple[float, np.ndarray, int]:
    start = time.perf_counter()
    search = EtaSearch(inputs, IpoptSolver(), Progress(), EngineSettings(Engine.ipopt))
    search.sweep(grid)
    seconds = time.perf_counter() - start
    points = search.result.grid_points
    if not all(p.record.optimal for p in points):
        raise RuntimeError("search: a solve failed")
    return seconds, np.array([p.T for p in points]), sum(p.record.iterations for p in points)


def run_naive(inputs, grid) -> tuple[float, np.ndarray, int]:
    progress = Progress()
    progress.start("naive loop", len(grid.points()))
    delays, iterations = [], 0
    start = time.perf_counter()
    for eta in grid.points():
        model = build_problem17(inputs, eta)
        record = IpoptSolver().solve(model)
        if not record.optimal:
            raise RuntimeError(f"naive: solve failed at eta={eta}: {record.status}")
        delays.append(pyo.value(model.T))
        iterations += record.iterations
        progress.advance(f"eta={eta:.2f}")
    progress.finish()
    return time.perf_counter() - start, np.array(delays), iterations


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"users": [50, 500], "step": 0.01}, OmegaConf.from_dotlist(argv))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for users in config.users:
            inputs = scenario(int(users), Path(folder))
            grid = eta_grid_for(inputs, step=float(config.step))
            search_s, search_T, search_it = run_search(inputs, grid)
            naive_s, naive_T, naive_it = run_naive(inputs, grid)
            difference = float(np.max(np.abs(search_T - naive_T) / naive_T))
            rows.append((users, len(grid.points()), search_s, naive_s, naive_s / search_s, search_it, naive_it,
                         difference))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"{'K':>5} {'etas':>5} {'search s':>9} {'naive s':>9} {'ratio':>6} {'search it':>10} {'naive it':>9} "
          f"{'max rel dT':>11}")
    for users, etas, search_s, naive_s, ratio, search_it, naive_it, difference in rows:
        print(f"{users:>5} {etas:>5} {search_s:>9.2f} {naive_s:>9.2f} {ratio:>6.2f} {search_it:>10} {naive_it:>9} "
              f"{difference:>11.2e}")
    print(f"peak resident memory of the process: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
