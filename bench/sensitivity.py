"""Benchmark: a Morris study of 8 FedsLLM factors, 20 trajectories (180 points) at K = 50, on 2 Dask workers.

    ./fedsplit bench sensitivity [trajectories=20] [workers=2]

The whole command (`study=sensitivity`, the shipped 50-user workbook: cluster start, the points, SALib's
indices, the report and its figure) timed end to end on the batched engine (the default) and on the
per-point reference (`monte_carlo.engine=per_task`), both in this process (alternating, twice each, the
fastest kept), and the same points solved one
after another without Dask (a tenth of them, scaled). Prints the times, their ratios, the largest
difference between the two engines' indices, and the aim: at most 30 s on two workers.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

FACTORS = ("{server_cpu_max_hz:[5e9,4e10],client_share_min:[0.05,0.3],L:[3.2035,10],gamma:[1,2.9767],"
           "bandwidth_main_hz:[5e6,4e7],bandwidth_fed_hz:[5e6,4e7],smashed_bits:[1e5,1e6],users.cpu_max_hz:[0.5,2]}")
AIM_S = 30.0


def main(argv: list[str]) -> None:
    from data.fedsllm.inputs import load_fedsllm
    from solvers.app.cli import main as run
    from solvers.studies.fedsllm import FedsllmStudySpec
    from solvers.studies.sensitivity import SensitivitySpec, run_fedsllm_point, sample_design
    from solvers.studies.sensitivity_points import SensitivityMethod, factors_of

    arguments = dict(a.split("=", 1) for a in argv)
    trajectories, workers = int(arguments.get("trajectories", 20)), int(arguments.get("workers", 2))
    folder = Path(tempfile.mkdtemp(prefix="bench-sensitivity-"))

    def study(engine: str, attempt: int) -> float:
        started = time.perf_counter()
        code = run(["study=sensitivity", f"sensitivity.parameters={FACTORS}", f"sensitivity.samples={trajectories}",
                    f"dask.workers={workers}", "progress=false", f"monte_carlo.engine={engine}",
                    f"out={folder / f'{engine}-{attempt}'}"])
        if code != 0:
            raise SystemExit(f"the study on engine {engine} exited {code}")
        return time.perf_counter() - started

    # Alternating, twice each, the fastest kept: the first study of a process pays what the second does not.
    runs = {"batched": [], "per_task": []}
    for attempt in range(2):
        for engine in ("per_task", "batched"):
            runs[engine].append(study(engine, attempt))
    study_s, per_task_s = min(runs["batched"]), min(runs["per_task"])
    out = folder / "batched-0"
    import pandas as pd  # noqa: PLC0415

    indices = {engine: pd.read_csv(folder / f"{engine}-0" / "indices.csv") for engine in ("batched", "per_task")}
    difference = (indices["batched"]["mu_star"] - indices["per_task"]["mu_star"]).abs().max()

    import yaml  # noqa: PLC0415
    parameters = yaml.safe_load((out / "config.yaml").read_text())["sensitivity"]["parameters"]
    base = load_fedsllm()
    factors = factors_of("fedsllm", parameters)
    design = sample_design(SensitivityMethod.morris, factors, trajectories, 4, 1)
    spec = SensitivitySpec(base, tuple(factors), FedsllmStudySpec(dict(base.parameters), base.user_count, None, 0.1,
                                                                  1e-4, 1e-9, 5000, "search"))
    tasks = design.tasks()
    run_fedsllm_point(spec, tasks[0])  # imports and compilation, as each worker pays once
    share = tasks[:: 10]
    clock = time.perf_counter()
    for task in share:
        run_fedsllm_point(spec, task)
    serial_s = (time.perf_counter() - clock) * len(tasks) / len(share)
    print(f"Morris, {len(factors)} factors, {trajectories} trajectories, {len(tasks)} points, K = {base.user_count}:")
    print(f"  study=sensitivity on {workers} workers, end to end, batched engine: {study_s:.1f} s (aim <= {AIM_S:g} s: "
          f"{'met' if study_s <= AIM_S else 'MISSED'})")
    print(f"  the same, per-point engine (monte_carlo.engine=per_task): {per_task_s:.1f} s; "
          f"ratio batched / per_task: {study_s / per_task_s:.2f}")
    print(f"  largest difference of mu* between the engines: {difference:.2e}")
    print(f"  reference, the points one after another in this process (no Dask): {serial_s:.1f} s; "
          f"ratio batched study / it: {study_s / serial_s:.2f}")
    print(f"  report: {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
