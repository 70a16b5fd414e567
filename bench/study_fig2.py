"""Benchmark: the Fig. 2 Monte Carlo study on Dask, with 1 and with 2 workers, in one run.

    ./fedsplit bench study_fig2 [drops=100] [users=50]

drops x 11 powers (0..20 dBm) x 4 strategies (Proposed, EB, FE, BA)
(Proposed: the eta search, grid step 0.1 + Brent, the default) at K users, on a LocalCluster of 1 process worker (the reference run) and of 2. Prints both wall times
(cluster start included), the speed-up, whether the numbers are identical, and the mean reduction of
Proposed against BA with its 95 % CI. Aim (2 cores): at most 60 s with 2 workers, speed-up >= 1.7x.
"""

from __future__ import annotations

import math
import sys
import time


def main(argv: list[str]) -> None:
    from data.fedsllm import load_fedsllm
    from reports.study import fedsllm_reductions, runs_frame
    from solvers.runtime.progress import Progress
    from solvers.studies.cluster import ClusterSettings, run_tasks
    from solvers.studies.fedsllm import FedsllmStudySpec, fedsllm_task_failure, run_fedsllm_task
    from solvers.studies.tasks import study_tasks

    arguments = dict(a.split("=", 1) for a in argv)
    drops, users = int(arguments.get("drops", 100)), int(arguments.get("users", 50))
    base = load_fedsllm()
    spec = FedsllmStudySpec(dict(base.parameters), users, "power_dbm", 0.1, 1e-4, 1e-9, 5000, "search")
    tasks = study_tasks(drops, 1, [float(p) for p in range(0, 21, 2)])
    timings, results = {}, {}
    for workers in (1, 2):
        started = time.perf_counter()
        rows, _ = run_tasks(run_fedsllm_task, spec, tasks, fedsllm_task_failure, ClusterSettings(workers=workers),
                            Progress())
        timings[workers] = time.perf_counter() - started
        results[workers] = rows
    numbers = ("T_s", "eta", "lower_bound_s", "gap")

    def same(a, b):
        return all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in numbers)

    identical = all(same(a, b) for a, b in zip(results[1], results[2]))
    overall = fedsllm_reductions(runs_frame(results[2])).iloc[-1]
    failed = sum(r["status"] != "ok" for r in results[2])
    print(f"{len(tasks)} tasks ({drops} drops x 11 powers), {len(results[2])} runs, K = {users}, {failed} failed")
    print(f"1 worker (reference): {timings[1]:.1f} s")
    print(f"2 workers:            {timings[2]:.1f} s   (aim: <= 60 s)")
    print(f"speed-up:             {timings[1] / timings[2]:.2f}x (aim: >= 1.7x)")
    print(f"numbers identical with 1 and 2 workers: {identical}")
    print(f"Proposed vs BA: {overall['mean']:.2%}, 95 % CI [{overall['ci95_low']:.2%}, {overall['ci95_high']:.2%}] "
          f"(paper: 47.63 %)")


if __name__ == "__main__":
    main(sys.argv[1:])
