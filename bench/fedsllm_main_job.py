"""Benchmark: the whole main job with and without the global search over eta, in one run.

    ./fedsplit bench fedsllm_main_job [repeats=3] [data=null]

Runs `python -m solvers.run model=fedsllm` on the shipped workbook (or `data`) with
global_eta.enabled=false (the reference: the job as it was before the branch and bound) and with the
default (enabled), `repeats` times each, alternating, and prints the median wall times and their ratio
(aim: at most 2x).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf


def run_job(out: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "solvers.run", "model=fedsllm", f"out={out}", "progress=false", *extra],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"repeats": 3, "data": None}, OmegaConf.from_dotlist(argv))
    data = [f"data={Path(config.data).resolve()}"] if config.data else []
    without, with_global = [], []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(int(config.repeats)):
            without.append(run_job(Path(folder) / f"off-{repeat}", [*data, "global_eta.enabled=false"]))
            with_global.append(run_job(Path(folder) / f"on-{repeat}", data))
            print(f"repeat {repeat + 1}: {without[-1]:.2f} s without, {with_global[-1]:.2f} s with", file=sys.stderr)
    reference, measured = statistics.median(without), statistics.median(with_global)
    print(f"main job without the global search: {reference:.2f} s (median of {len(without)})")
    print(f"main job with the global search:    {measured:.2f} s (median of {len(with_global)})")
    print(f"ratio: {measured / reference:.2f} (aim: at most 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
