"""Benchmark: Problem (E), the least energy under a delay limit, at network scale.

    ./fedsplit bench fedsllm_energy [users=1000] [small=50] [huge=100000] [factor=1.2]

1. K = `users`: the whole `objective=energy` run (the delay optimum T*, the search over eta, the certified
   bound over every eta, Ipopt's re-solve and the KKT certificate, the report) on a workbook drawn by the
   generator (seed 3), against the reference: the same workbook's delay run (`problem16=false`, the part
   of the delay run the energy run repeats). Each is a child process; wall and CPU seconds, the ratio,
   and the aim (at most 60 s at K = 1,000).
2. K = `small`: the search over eta (grid and Brent) by the structured engine against Ipopt on the Pyomo
   model (the reference), in this process: seconds, ratio, and the largest relative difference in E at
   the grid points both solved.
3. K = `huge`: one fixed-eta structured solve of (E), cold, then one warm at a neighbouring eta, in a
   child process (its peak memory is its own): seconds, outer steps, the gap.
"""

from __future__ import annotations

import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from omegaconf import OmegaConf


def child_run(arguments: list[str]) -> tuple[float, float]:
    """A `python -m solvers.run` child: (wall, CPU) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "solvers.run", "model=fedsllm", "progress=false", *arguments], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(folder: Path) -> dict[str, str]:
    import csv  # noqa: PLC0415

    with open(folder / "summary.csv", newline="") as handle:
        return {row["name"]: row["value"] for row in csv.DictReader(handle)}


def whole_runs(users: int, factor: float) -> None:
    from data.fedsllm.generate import ScenarioSettings, generate  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        workbook = generate(ScenarioSettings(users=users, seed=3, out=str(Path(folder) / "scenario.xlsx")))
        delay = child_run([f"data={workbook}", f"out={Path(folder) / 'delay'}", "problem16=false"])
        energy = child_run([f"data={workbook}", f"out={Path(folder) / 'energy'}", "objective=energy",
                            f"energy.max_delay_factor={factor}"])
        facts = summary(Path(folder) / "energy")
    print(f"K = {users}: delay run (reference) {delay[0]:.1f} s wall, {delay[1]:.1f} s CPU")
    print(f"K = {users}: energy run {energy[0]:.1f} s wall, {energy[1]:.1f} s CPU; ratio {energy[0] / delay[0]:.2f} "
          f"(wall), {energy[1] / delay[1]:.2f} (CPU); aim: at most 60 s")
    print(f"  E* = {float(facts['E']):.6g} J at eta = {float(facts['eta']):.6f}, server clock "
          f"{float(facts['server_clock']) / 1e9:.4g} GHz; bound over eta: {facts['eta_bound_status']}, gap "
          f"{float(facts['eta_gap']):.1e} in {facts['eta_bound_solves']} solves; certificate {facts['certificate']}")


def engines(users: int, factor: float) -> None:
    from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory  # noqa: PLC0415
    from solvers.fedsllm.energy.search import EnergySearch, Strategy  # noqa: PLC0415
    from solvers.fedsllm.engines import Allocation  # noqa: PLC0415
    from solvers.fedsllm.search import eta_grid_for  # noqa: PLC0415
    from solvers.fedsllm.structured import solve_structured  # noqa: PLC0415
    from solvers.fedsllm.scenario import SplitScenario  # noqa: PLC0415
    from solvers.runtime.ipopt import IpoptSolver  # noqa: PLC0415

    inputs = fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=users, seed=1)))
    split = SplitScenario.from_inputs(inputs)
    grid = eta_grid_for(inputs)
    eta = min(grid.points(), key=lambda e: solve_structured(split, e).T)
    point = solve_structured(split, eta)
    optimum = Allocation(eta, point.T, point.bandwidth_main_hz / 1e6, point.bandwidth_fed_hz / 1e6, point.time_main_s,
                         point.time_fed_s)
    found = {}
    for engine in ("ipopt", "structured"):
        search = EnergySearch(inputs, IpoptSolver(), factor * point.T, Strategy("Proposed"), engine=engine)
        started = time.perf_counter()
        result = search.run(grid, 1e-6, optimum)
        found[engine] = (time.perf_counter() - started, result)
    (ipopt_s, ipopt), (structured_s, structured) = found["ipopt"], found["structured"]
    by_eta = {p.eta: p.energy_j for p in ipopt.points if p.stage == "grid" and p.record.optimal}
    worst = max(abs(p.energy_j / by_eta[p.eta] - 1) for p in structured.points if p.eta in by_eta and p.stage == "grid")
    print(f"K = {users}: search over eta by Ipopt (reference) {ipopt_s:.2f} s, {ipopt.solves} solves; structured "
          f"{structured_s:.2f} s, {structured.solves} solves; speed-up {ipopt_s / structured_s:.1f}x")
    print(f"  E* Ipopt {ipopt.best.energy_j:.12g} J, structured {structured.best.energy_j:.12g} J; largest relative "
          f"difference at a grid point {worst:.1e}")


def huge_stage(users: int, factor: float) -> dict:
    from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory  # noqa: PLC0415
    from models.fedsllm_energy import relaxed_rounds_and_log2  # noqa: PLC0415
    from solvers.fedsllm.energy.scenario import EnergyScenario  # noqa: PLC0415
    from solvers.fedsllm.energy.structured import solve_energy_structured  # noqa: PLC0415
    from solvers.fedsllm.structured import solve_structured  # noqa: PLC0415

    scenario = EnergyScenario.from_inputs(fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=users, seed=1))))
    max_delay = factor * solve_structured(scenario.split, 0.84).T
    rows = []
    state = None
    for eta in (0.84, 0.845):
        started = time.perf_counter()
        point, state = solve_energy_structured(scenario, *relaxed_rounds_and_log2(scenario.split.a, eta, eta),
                                               max_delay, eta, start=state)
        rows.append((eta, time.perf_counter() - started, point.iterations, point.gap, point.status))
    return {"rows": rows, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"users": 1000, "small": 50, "huge": 100_000, "factor": 1.2}, OmegaConf.from_dotlist(argv))
    whole_runs(int(config.users), float(config.factor))
    engines(int(config.small), float(config.factor))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        huge = pool.submit(huge_stage, int(config.huge), float(config.factor)).result()
    for eta, seconds, steps, gap, status in huge["rows"]:
        print(f"K = {config.huge}: one (E) solve at eta = {eta:g} ({'warm' if eta != 0.84 else 'cold'}) {seconds:.2f} s, "
              f"{steps} outer steps, gap {gap:.1e}, {status}")
    print(f"  peak memory {huge['peak_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
