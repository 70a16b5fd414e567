"""Benchmark: Ipopt (MUMPS) with the reference BLAS/LAPACK against OpenBLAS, on the same eta grid.

    ./fedsplit bench ipopt_blas [users=[50,500]] [step=0.05] [repeats=3] [threads=1]

Debian's Ipopt and MUMPS link `libblas.so.3` and `liblapack.so.3`, which Debian's
alternatives point at the reference BLAS (`libblas3`, `liblapack3`) or at
OpenBLAS (`libopenblas0-pthread`). This script runs the eta grid (no
refinement) in one child process per library, with LD_LIBRARY_PATH set to that
library's folder, and prints for each K the median wall time of each, their ratio
(reference / OpenBLAS) and the largest relative difference in T between the two.
OpenBLAS (with `threads` threads) is taken from its Debian folder, or from OPENBLAS_DIR.

Measured on this project's 2-core machine (2026-11-23), step 0.05, medians of 3:
K = 50: reference 1.83 s, OpenBLAS 1.91 s (ratio 0.96); K = 500: 11.48 s and
12.40 s (0.93), T the same to 7e-15; with 2 OpenBLAS threads at K = 500 12.53 s
against 13.01 s (0.96).
MUMPS factorises small sparse blocks here, where OpenBLAS's kernels do not pay
off, so the set-up keeps the reference BLAS.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

LIBRARIES = {
    "reference": Path("/usr/lib/x86_64-linux-gnu/blas"),
    "openblas": Path(os.environ.get("OPENBLAS_DIR", "/usr/lib/x86_64-linux-gnu/openblas-pthread")),
}
LAPACK_DIRS = {"reference": Path("/usr/lib/x86_64-linux-gnu/lapack")}


def child(users: int, step: float) -> None:
    """Run the grid once and print the wall time and T at every eta as JSON (in the child process)."""
    import time

    from data.fedsllm.inputs import load_fedsllm
    from data.fedsllm.generate import ScenarioSettings, draw_users, write_fedsllm_workbook
    from solvers.fedsllm.search import EtaSearch, eta_grid_for
    from solvers.runtime.ipopt import IpoptSolver

    with tempfile.TemporaryDirectory() as folder:
        path = write_fedsllm_workbook(Path(folder) / "bench.xlsx", draw_users(ScenarioSettings(users=users, seed=1)))
        inputs = load_fedsllm(path)
    search = EtaSearch(inputs, IpoptSolver())
    start = time.perf_counter()
    search.sweep(eta_grid_for(inputs, step))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "T": [p.T for p in search.result.grid_points]}))


def run_child(library: str, users: int, step: float, threads: int) -> dict:
    folders = [str(LIBRARIES[library])] + ([str(LAPACK_DIRS[library])] if library in LAPACK_DIRS else [])
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(folders), "OPENBLAS_NUM_THREADS": str(threads)}
    completed = subprocess.run([sys.executable, "-m", "bench.ipopt_blas", "child", str(users), str(step)],
                               env=env, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child(int(argv[1]), float(argv[2]))
        return 0
    options = OmegaConf.merge({"users": [50, 500], "step": 0.05, "repeats": 3, "threads": 1},
                              OmegaConf.from_dotlist(argv))
    missing = [name for name, folder in LIBRARIES.items() if not (folder / "libblas.so.3").exists()]
    if missing:
        print(f"missing BLAS: {', '.join(missing)} (install libopenblas0-pthread, or set OPENBLAS_DIR)",
              file=sys.stderr)
        return 2
    print(f"{'K':>6} {'reference s':>12} {'OpenBLAS s':>11} {'ratio':>6} {'max rel dT':>11}")
    for users in options.users:
        runs = {name: [run_child(name, users, options.step, options.threads) for _ in range(options.repeats)]
                for name in LIBRARIES}
        median = {name: statistics.median(r["seconds"] for r in results) for name, results in runs.items()}
        reference_T, openblas_T = runs["reference"][0]["T"], runs["openblas"][0]["T"]
        difference = max(abs(a - b) / a for a, b in zip(reference_T, openblas_T))
        print(f"{users:>6} {median['reference']:>12.2f} {median['openblas']:>11.2f} "
              f"{median['reference'] / median['openblas']:>6.2f} {difference:>11.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
