"""Benchmark: how fast the command line answers when nothing is solved, against `python -c pass`.

    ./fedsplit bench startup [repeats=5]

Times, each `repeats` times in a fresh interpreter (the median is printed):
  - `python -c pass` (the interpreter alone, the reference),
  - `python -m solvers.run --help`,
  - `python -m solvers.run --cfg job`,
  - `python -m solvers.run eta.stp=0.1` (a refused override: exit 2 with the nearest key; the shipped
    workbook, known valid by its digest, is not read),
  - the same with `data=` an edited workbook (the CARD LLaMA one: read and checked in full, so that the
    workbook's problems are listed beside the settings'),
and, for each command, which of Pyomo, pandas, matplotlib and Dask it imported (none, the aim: they load
only where they are used). Aim: every command within 0.5 s.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

from omegaconf import OmegaConf

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "--help": ["-m", "solvers.run", "--help"],
    "--cfg job": ["-m", "solvers.run", "--cfg", "job"],
    "refused override": ["-m", "solvers.run", "eta.stp=0.1"],
    "refused override, own workbook": ["-m", "solvers.run", "model=card", "w=3", "data=data/card_llama32_1b.xlsx"],
}
HEAVY = ("pyomo", "pandas", "matplotlib", "dask", "distributed")
# Runs the command's module as `python -m` would, then says which heavy packages it left imported.
PROBE = ("import runpy, sys\n"
         "sys.argv = [{module!r}, *{args!r}]\n"
         "try:\n    runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
         "except SystemExit:\n    pass\n"
         "print('heavy:', *sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})), file=sys.__stderr__)")


def seconds(arguments: list[str]) -> tuple[float, float]:
    """Wall time of the command, and the CPU time it used (user + system: less disturbed by other jobs on
    a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(arguments: list[str]) -> str:
    if arguments[0] != "-m":
        return ""
    probe = PROBE.format(module=arguments[1], args=arguments[2:], heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    found = [line for line in done.stderr.splitlines() if line.startswith("heavy:")]
    return found[-1].removeprefix("heavy:").strip() if found else "(the probe failed)"


def main(argv: list[str]) -> int:
    config = OmegaConf.merge({"repeats": 5}, OmegaConf.from_dotlist(argv))
    walls, cpus = {}, {}
    for name, arguments in COMMANDS.items():
        seconds(arguments)  # warm the file cache
        runs = [seconds(arguments) for _ in range(int(config.repeats))]
        walls[name], cpus[name] = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    wall_reference, cpu_reference = walls["python -c pass"], cpus["python -c pass"]
    print(f"| command | wall (median of {config.repeats}) | over python -c pass | CPU | over python -c pass | "
          "heavy packages imported |")
    print("|---|---:|---:|---:|---:|---|")
    for name, arguments in COMMANDS.items():
        print(f"| {name} | {walls[name]:.2f} s | {walls[name] - wall_reference:+.2f} s | {cpus[name]:.2f} s | "
              f"{cpus[name] - cpu_reference:+.2f} s | {heavy_imports(arguments) or '-'} |")
    print("aim: every command within 0.5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
