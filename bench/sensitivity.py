"""Benchmark: a Morris study of 8 FedsLLM factors, 20 trajectories (180 points) at K = 50, on 2 Dask workers.

    ./fedsplit bench sensitivity [trajectories=20] [workers=2]

The whole command (`study=sensitivity`, the shipped 50-user workbook: cluster start, the points, SALib's
indices, the report and its figure) timed end to end, against a reference in the same process: the same
points solved one after another without Dask (a tenth of them, scaled). Prints both, the ratio and the
aim: at most 30 s on two workers.
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
    out = Path(tempfile.mkdtemp(prefix="bench-sensitivity-")) / "report"
    started = time.perf_counter()
    code = run(["study=sensitivity", f"sensitivity.parameters={FACTORS}", f"sensitivity.samples={trajectories}",
                f"dask.workers={workers}", "progress=false", f"out={out}"])
    study_s = time.perf_counter() - started
    assert code == 0, f"the study exited {code}"

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
    print(f"  study=sensitivity on {workers} workers, end to end: {study_s:.1f} s (aim <= {AIM_S:g} s: "
          f"{'met' if study_s <= AIM_S else 'MISSED'})")
    print(f"  reference, the points one after another in this process: {serial_s:.1f} s")
    print(f"  ratio study / reference: {study_s / serial_s:.2f}")
    print(f"  report: {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
