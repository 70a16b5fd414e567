"""Ctrl-C and SIGTERM at any moment of real runs, and solver output that cannot block a run.

Every run here is a real process (`python -m solvers.run`), tagged through its environment so that
every process it starts (Dask's workers included) can be found after it ends. A stop must end the run
within STOP_LIMIT_S with exit 130 (SIGINT) or 143 (SIGTERM) and one line, no traceback, no report
folder (not even the hidden partial one) and no process left behind. The moments are drawn by
Hypothesis (fixed seed, small budget) over each run's measured duration, from the moment the run's
handlers are in: before that only the interpreter's own start-up runs (solvers/runtime/entry.py).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings, strategies as st

from data.card.generate import DEVICES, SERVER, write_card_workbook
from data.fedsllm.generate import ScenarioSettings, draw_users, write_fedsllm_workbook
from solvers.runtime.stopping import StopRequested, stop_signals_handled
from tests.test_cli_safety import cli_env, hidden_entries, tiny_workbook

ROOT = Path(__file__).resolve().parents[1]
STOP_LIMIT_S = 2.0
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
TAG = "FEDSPLIT_TEST_RUN"
RUN_TIMEOUT_S = 300


@dataclass
class Run:
    """A `python -m solvers.run` process, its output lines as they come (seconds since start, text)."""

    args: list[str]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    lines: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: {"out": [], "err": []})

    def __post_init__(self):
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "solvers.run", *self.args], cwd=ROOT,
                                        env={**cli_env(), TAG: self.tag}, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                         for stream, name in ((self.process.stdout, "out"), (self.process.stderr, "err"))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, name: str) -> None:
        for line in stream:
            self.lines[name].append((time.perf_counter() - self.started, line.rstrip("\n")))

    def text(self, name: str) -> list[str]:
        return [line for _, line in self.lines[name]]

    def handlers_in(self) -> bool:
        """Whether the run catches SIGTERM, which Python leaves alone: the project's handlers are in."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return False
        caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
        return bool(caught >> (signal.SIGTERM - 1) & 1)

    def in_native_solve(self) -> bool:
        """Whether descriptor 1 points to the temporary file that captures a native solver's output."""
        try:
            return os.readlink(f"/proc/{self.process.pid}/fd/1").endswith("(deleted)")
        except OSError:
            return False

    def wait_until(self, condition, timeout_s: float = RUN_TIMEOUT_S, poll_s: float = 0.005) -> None:
        deadline = time.perf_counter() + timeout_s
        while not condition():
            assert self.process.poll() is None, f"the run ended first: {self.process.returncode}\n{self.text('err')}"
            assert time.perf_counter() < deadline, "timed out"
            time.sleep(poll_s)

    def wait_for_line(self, prefix: str) -> None:
        self.wait_until(lambda: any(line.startswith(prefix) for line in self.text("err")), poll_s=0.05)

    def wait_for_native_solve(self, lasting_s: float) -> None:
        """Until the run has been inside one native solve for `lasting_s`."""
        since = []

        def long_enough() -> bool:
            if not self.in_native_solve():
                since.clear()
                return False
            since.append(time.perf_counter())
            return since[-1] - since[0] >= lasting_s

        self.wait_until(long_enough)

    def stop(self, signum: int, group: bool = False) -> float | None:
        """Send `signum` (to the whole process group, as a terminal's Ctrl-C does, with `group`); the
        seconds until the run ended, or None if it had ended before."""
        if self.process.poll() is not None:
            self.finish()
            return None
        sent = time.perf_counter()
        (os.killpg if group else os.kill)(self.process.pid, signum)
        self.finish()
        return time.perf_counter() - sent

    def finish(self) -> int:
        try:
            self.process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"the run did not end within {RUN_TIMEOUT_S} s: {self.args}")
        for reader in self._readers:
            reader.join()
        return self.process.returncode

    def survivors(self, grace_s: float = STOP_LIMIT_S) -> list[str]:
        """Processes started by the run (they carry its tag) still alive `grace_s` after it ended."""
        deadline = time.perf_counter() + grace_s
        while True:
            alive = []
            for process in psutil.process_iter(["pid", "cmdline"]):
                try:
                    if process.environ().get(TAG) == self.tag and process.status() != psutil.STATUS_ZOMBIE:
                        alive.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])[:120]}")
                except (psutil.Error, OSError):
                    continue
            if not alive or time.perf_counter() > deadline:
                return alive
            time.sleep(0.1)


def assert_stopped_cleanly(run: Run, signum: int, seconds: float | None, out: Path, workbook: str) -> str:
    """The checks every stop must pass; returns how the run ended ('stopped' or 'finished first')."""
    code, stderr, stdout = run.process.returncode, run.text("err"), run.text("out")
    assert not [line for line in stderr + stdout if re.search(r"Traceback|Exception|Error|Warning", line)], stderr
    assert hidden_entries(out.parent) == [], "a partial report folder was left"
    assert run.survivors() == [], "a process of the run outlived it"
    if code == EXIT_CODES[signum]:
        assert seconds is not None and seconds <= STOP_LIMIT_S, f"stopped {seconds:.2f} s after the signal"
        name = signal.Signals(signum).name
        assert [line for line in stderr if "stopped by" in line] == [stderr[-1]], stderr
        if stderr[-1] == f"stopped by {name}; nothing was written":
            assert not out.exists() and not any(line.startswith("report:") for line in stdout)
            return "stopped"
        assert str(out) in stderr[-1], stderr[-1]  # stopped an instant after the report was committed
    else:  # the signal came after the run's work: at its exit (the default action) or after it ended
        assert code in (0, -signum), (code, stderr)
    assert (out / workbook).is_file() and (out / "summary.csv").is_file(), "a report folder but not complete"
    return "finished first"


# --- Solver output never blocks a run ------------------------------------------------------

def test_a_scip_log_past_the_pipe_capacity_does_not_block_the_run(tmp_path):
    """A device given the server's clock, cores and FLOPs per cycle makes SCIP print about 100 KB for one
    round: more than a pipe holds, which used to block the run in write(1) forever."""
    fast = (1, "as fast as the server", SERVER["clock_max_hz"], SERVER["cores"], SERVER["flops_per_cycle"], 12.0)
    devices = [fast, *[(*device, 15.0) for device in DEVICES[1:]]]
    workbook = write_card_workbook(tmp_path / "fast_device.xlsx", devices=devices)
    out = tmp_path / "report"
    run = Run(["model=card", f"data={workbook}", "rounds=1", "progress=false", f"out={out}"])
    assert run.finish() == 0, run.text("err")
    read, write = os.pipe()
    pipe_capacity = fcntl.fcntl(write, fcntl.F_GETPIPE_SZ)
    os.close(read), os.close(write)
    logged = re.findall(r"P1 by SCIP over \d+ device-rounds: convergenceCriteriaSatisfied .*its log: (\d+) bytes",
                        (out / "run.log").read_text())
    assert logged and int(logged[0]) > pipe_capacity, logged


# --- What a stop leaves --------------------------------------------------------------------

def test_a_stop_swallowed_by_a_finalizer_is_raised_again(capsys):
    """A signal whose handler runs inside a `__del__` (once: ZipFile's) used to be printed as 'Exception
    ignored in ...' and lost: the run went on and wrote its report."""
    class Finalised:
        def __del__(self):
            signal.raise_signal(signal.SIGTERM)
            for _ in range(1000):  # Python code: the handler runs here, inside the finalizer
                pass

    with stop_signals_handled(), pytest.raises(StopRequested) as stopped:
        Finalised()  # collected at once
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # where the stop must arrive, again
            pass
    assert stopped.value.signum == signal.SIGTERM
    assert "Exception ignored" not in capsys.readouterr().err


def test_a_stopped_multirun_names_the_jobs_it_finished(tmp_path):
    sweep = tmp_path / "sweep"
    run = Run(["-m", f"data={tiny_workbook(tmp_path / 'tiny.xlsx')}", "eta.step=0.1,0.2", "problem16=false",
               "progress=false", f"out={sweep}"])
    run.wait_for_line("[job 1]")
    seconds = run.stop(signal.SIGINT)
    if run.process.returncode == 0:
        pytest.skip("the second job finished before the signal")
    assert run.process.returncode == 130 and seconds <= STOP_LIMIT_S
    assert run.text("err")[-1] == (f"stopped by SIGINT; finished before the stop (complete): {sweep / '0'}; "
                                   f"nothing else was written")
    assert (sweep / "0" / "fedsllm.xlsx").is_file() and not (sweep / "1").exists()
    assert hidden_entries(sweep) == [] and run.survivors() == []


# --- Stops inside the native solvers -------------------------------------------------------

def test_ctrl_c_inside_scip_stops_the_run_with_130(tmp_path):
    """SCIP's P1 over the shipped workbook's 100 device-rounds takes tens of seconds; Ctrl-C inside it used
    to be taken by SCIP, and the run went on to exit 0 with a full report."""
    out = tmp_path / "report"
    run = Run(["model=card", f"out={out}"])
    run.wait_for_line("cross-check: P3 by Ipopt at every cut:")  # the next native solve is SCIP's
    run.wait_for_native_solve(lasting_s=0.5)
    seconds = run.stop(signal.SIGINT)
    assert run.process.returncode == 130, run.text("err")
    assert assert_stopped_cleanly(run, signal.SIGINT, seconds, out, "card.xlsx") == "stopped"


def test_sigterm_inside_a_long_ipopt_solve_stops_within_the_limit(tmp_path):
    """300 users with a limited-memory Hessian: the first Ipopt solve runs for minutes; SIGTERM must end
    it at Ipopt's next iteration, not when the solve returns."""
    users = draw_users(ScenarioSettings(users=300, seed=3))
    workbook = write_fedsllm_workbook(tmp_path / "users300.xlsx", users)
    out = tmp_path / "report"
    run = Run([f"data={workbook}", "solver.engine=ipopt", "+solver.options.hessian_approximation=limited-memory",
               "problem16=false", f"out={out}"])
    run.wait_for_native_solve(lasting_s=1.0)
    seconds = run.stop(signal.SIGTERM)
    assert run.process.returncode == 143, run.text("err")
    assert assert_stopped_cleanly(run, signal.SIGTERM, seconds, out, "fedsllm.xlsx") == "stopped"


# --- Stops at random moments ---------------------------------------------------------------

SCENARIOS = {  # name: (arguments, report workbook); data=... is added for fedsllm
    "fedsllm": (["progress=false"], "fedsllm.xlsx"),
    "card": (["model=card", "rounds=2", "progress=false"], "card.xlsx"),
    "study": (["study=monte_carlo", "drops=2", "users=3", "dask.workers=2", "monte_carlo.engine=per_task",
               "progress=false"], "fedsllm.xlsx"),
}


@pytest.mark.parametrize("moment", ["scheduler", "first worker"])
def test_a_stop_while_the_cluster_starts_is_clean(tmp_path, moment):
    """As soon as multiprocessing's resource tracker is up (the scheduler is starting next), or as soon as
    the first worker process exists (the others are being spawned, none has started): the moments that
    printed Dask's 'AssertionError: Status.init'."""
    out = tmp_path / "study"
    run = Run([*SCENARIOS["study"][0], f"out={out}"])

    def command(process: psutil.Process) -> str:
        try:
            return " ".join(process.cmdline())
        except psutil.Error:  # gone, or a zombie
            return ""

    def started() -> bool:
        names = [command(child) for child in psutil.Process(run.process.pid).children()]
        workers = sum("spawn_main" in name for name in names)
        return workers >= 1 if moment == "first worker" else any("resource_tracker" in name for name in names)

    run.wait_until(started, poll_s=0.002)
    seconds = run.stop(signal.SIGINT)
    assert run.process.returncode == 130, run.text("err")
    assert assert_stopped_cleanly(run, signal.SIGINT, seconds, out, "fedsllm.xlsx") == "stopped"


@pytest.fixture(scope="module")
def scenario_runs(tmp_path_factory):
    """Each scenario's arguments and its duration from the handlers being in to its end, measured once by
    an unstopped run (which must succeed)."""
    folder = tmp_path_factory.mktemp("scenarios")
    workbook = tiny_workbook(folder / "tiny.xlsx")
    durations = {}
    for name, (args, report) in SCENARIOS.items():
        args = [*args, f"data={workbook}"] if name == "fedsllm" else args
        run = Run([*args, f"out={folder / name}"])
        run.wait_until(run.handlers_in)
        handlers_in = time.perf_counter()
        assert run.finish() == 0, run.text("err")
        assert (folder / name / report).is_file()
        durations[name] = (args, report, time.perf_counter() - handlers_in)
    return durations


@seed(24)
@settings(max_examples=8, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=st.sampled_from(sorted(SCENARIOS)), signum=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
       to_group=st.booleans(), moment=st.floats(0.0, 1.0))
def test_a_stop_at_any_moment_is_clean(scenario_runs, tmp_path, scenario, signum, to_group, moment):
    args, report, duration = scenario_runs[scenario]
    out = tmp_path / f"report-{uuid.uuid4().hex[:8]}"
    run = Run([*args, f"out={out}"])
    run.wait_until(run.handlers_in)
    time.sleep(moment * duration)
    seconds = run.stop(signum, group=to_group)
    outcome = assert_stopped_cleanly(run, signum, seconds, out, report)
    print(f"{scenario} {signal.Signals(signum).name}{' to the group' if to_group else ''} at {moment:.2f} of "
          f"{duration:.1f} s: {outcome}" + (f" in {seconds:.2f} s" if seconds is not None else ""))
