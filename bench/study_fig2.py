"""Benchmark: the Fig. 2 Monte Carlo study on Dask, the batched engine against the per-task path, in one run.

    ./fedsplit bench study_fig2 [drops=1000] [reference_drops=100] [users=50] [workers=2] [compile=true]

drops x 11 powers (0..20 dBm) x 4 strategies (Proposed: the eta search, grid step 0.1 + Brent, the default)
at K users on a LocalCluster of `workers` process workers, each run timed from the cluster's start to its
close:
  1. the batched engine (monte_carlo.engine=batched, the default) on `drops` drops (aim: at most 30 s
     with 2 workers at 1,000 drops),
  2. the batched engine and the per-task path (monte_carlo.engine=per_task, the reference) on the first
     `reference_drops` drops: the per-task path takes about 0.3 s per drop and power on two cores, so it
     runs on fewer drops; their ratio is on the same drops, and the per-task time for `drops` drops is
     that time scaled by the drops (an estimate, said so).
Each run also reports the workers' processor time inside the tasks (what the solving costs whatever
else the machine runs). The numbers of both paths on the reference drops are compared (statuses, T and eta), and with
`compile=true` the kernel's compile time in an empty cache is measured in a child process (what the
first study after an install or a change of solvers/fedsllm/kernels.py pays on each worker; every later
run loads the machine code from the cache).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPILE_PROBE = """
import time
started = time.perf_counter()
from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory
from solvers.fedsllm.batched import BatchState, ScenarioBatch, solve_fixed_eta
from solvers.fedsllm.scenario import SplitScenario
batch = ScenarioBatch.of([SplitScenario.from_inputs(fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=3))))])
solve_fixed_eta(batch, BatchState(batch), 0.5)
print(time.perf_counter() - started)
"""


def compile_seconds(empty_cache: bool) -> float:
    """Import and first solve in a fresh process, with an empty kernel cache or the repository's."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(root), **({"NUMBA_CACHE_DIR": cache} if empty_cache else {})}
        done = subprocess.run([sys.executable, "-c", COMPILE_PROBE], env=env, cwd=root, capture_output=True,
                              text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def with_cpu(function, spec, item) -> list[dict]:
    """`function(spec, item)`'s rows, the first carrying the worker's processor time for the item."""
    started = time.process_time()
    rows = function(spec, item)
    rows[0] = {**rows[0], "cpu_s": time.process_time() - started}
    return rows


def batched_chunk(spec, chunk) -> list[dict]:
    from solvers.studies.fedsllm_batched import run_fedsllm_chunk
    return with_cpu(run_fedsllm_chunk, spec, chunk)


def per_task(spec, task) -> list[dict]:
    from solvers.studies.fedsllm import run_fedsllm_task
    return with_cpu(run_fedsllm_task, spec, task)


def timed_study(engine: str, spec, tasks, workers: int):
    """Wall time from the cluster's start to its close, the workers' processor time in the tasks, rows."""
    from solvers.runtime.progress import Progress
    from solvers.studies.cluster import ClusterSettings, run_tasks
    from solvers.studies.fedsllm import fedsllm_task_failure
    from solvers.studies.fedsllm_batched import fedsllm_chunk_failure
    from solvers.studies.tasks import study_chunks

    started = time.perf_counter()
    if engine == "batched":
        rows, _ = run_tasks(batched_chunk, spec, tasks, fedsllm_chunk_failure, ClusterSettings(workers=workers),
                            Progress(), study_chunks)
    else:
        rows, _ = run_tasks(per_task, spec, tasks, fedsllm_task_failure, ClusterSettings(workers=workers), Progress())
    cpu = sum(row.pop("cpu_s", 0.0) for row in rows)
    return time.perf_counter() - started, cpu, rows


def agreement(reference: list[dict], batched: list[dict]) -> str:
    """Statuses, and the largest relative differences in T and eta, with the share of eta within 1e-9."""
    same_status = all((a["status"], a["strategy"]) == (b["status"], b["strategy"]) for a, b in zip(reference, batched))
    pairs = [(a, b) for a, b in zip(reference, batched) if a["status"] == b["status"] == "ok"]
    dT = max(abs(b["T_s"] - a["T_s"]) / a["T_s"] for a, b in pairs)
    deta = [abs(b["eta"] - a["eta"]) / a["eta"] for a, b in pairs]
    within = sum(d <= 1e-9 for d in deta) / len(deta)
    return (f"statuses identical: {same_status}; largest relative difference in T {dT:.1e}, in eta {max(deta):.1e} "
            f"({within:.1%} of the runs within 1e-9)")


def main(argv: list[str]) -> None:
    from data.fedsllm.inputs import load_fedsllm
    from data.papers import PAPER_REDUCTION_VS_BA
    from reports.study import fedsllm_reductions, runs_frame
    from solvers.studies.fedsllm import FedsllmStudySpec
    from solvers.studies.tasks import study_tasks

    arguments = dict(a.split("=", 1) for a in argv)
    drops, users = int(arguments.get("drops", 1000)), int(arguments.get("users", 50))
    reference_drops = min(drops, int(arguments.get("reference_drops", 100)))
    workers = int(arguments.get("workers", 2))
    powers = [float(p) for p in range(0, 21, 2)]
    spec = FedsllmStudySpec(dict(load_fedsllm().parameters), users, "power_dbm", 0.1, 1e-4, 1e-9, 5000, "search")
    compile_line = ""
    if arguments.get("compile", "true").lower() == "true":
        compile_line = (f"kernel: compile in an empty cache {compile_seconds(True):.1f} s, load from the cache "
                        f"{compile_seconds(False):.1f} s (import and first solve in a fresh process)")
    tasks = study_tasks(drops, 1, powers)
    batched_s, batched_cpu, batched = timed_study("batched", spec, tasks, workers)
    few = study_tasks(reference_drops, 1, powers)
    few_batched_s, few_batched_cpu, few_batched = timed_study("batched", spec, few, workers)
    per_task_s, per_task_cpu, per_task_rows = timed_study("per_task", spec, few, workers)
    overall = fedsllm_reductions(runs_frame(batched)).iloc[-1]
    failed = sum(r["status"] != "ok" for r in batched)
    estimate = per_task_s * drops / reference_drops
    print(f"{drops} drops x 11 powers x 4 strategies, K = {users}, {workers} workers (cluster start included), "
          f"{failed} of {len(batched)} runs failed")
    print(f"batched, {drops} drops:            {batched_s:7.1f} s   (aim: <= 30 s at 1,000 drops on 2 workers); "
          f"the workers' CPU in the tasks {batched_cpu:.1f} s")
    print(f"batched, {reference_drops} drops:             {few_batched_s:7.1f} s   CPU {few_batched_cpu:.1f} s")
    print(f"per-task (reference), {reference_drops} drops: {per_task_s:7.1f} s   CPU {per_task_cpu:.1f} s -> ratio "
          f"{per_task_s / few_batched_s:.1f}x on the same drops (CPU {per_task_cpu / few_batched_cpu:.1f}x)")
    print(f"per-task, {drops} drops, estimated:  {estimate:7.1f} s   ({reference_drops} drops scaled by "
          f"{drops / reference_drops:g}) -> ratio {estimate / batched_s:.1f}x")
    print(f"numbers on the {reference_drops} reference drops: {agreement(per_task_rows, few_batched)}")
    print(f"Proposed vs BA over {drops} drops: {overall['mean']:.2%}, 95 % CI "
          f"[{overall['ci95_low']:.2%}, {overall['ci95_high']:.2%}] (paper: {PAPER_REDUCTION_VS_BA:.2%})")
    if compile_line:
        print(compile_line)
    print(f"load average of the machine over the last 15 minutes: {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores")
    if math.isnan(overall["mean"]):
        raise SystemExit("no Proposed/BA pair succeeded")


if __name__ == "__main__":
    main(sys.argv[1:])
