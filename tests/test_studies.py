"""Monte Carlo studies on a real Dask cluster: workers, order, confidence intervals, failures, bad settings."""

from __future__ import annotations

import csv
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from data.fedsllm.inputs import load_fedsllm
from data.errors import EXIT_INPUT
from solvers.app.jobs import EXIT_OK
from solvers.app.cli import main
from solvers.studies.cluster import ClusterSettings, run_tasks
from solvers.studies.fedsllm import FedsllmStudySpec, fedsllm_task_failure, run_fedsllm_task
from solvers.studies.tasks import study_tasks

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
# Student's t at 97.5 % (a two-sided 95 % interval), from a printed table: 3 and 4 degrees of freedom.
T_TABLE = {3: 3.182446305284263, 4: 2.776445105197793}


def tiny_spec(users: int = 4) -> FedsllmStudySpec:
    return FedsllmStudySpec(dict(load_fedsllm().parameters), users, "power_dbm", 0.1, 1e-4, 1e-9, 5000)


NUMBERS = ("T_s", "eta", "lower_bound_s", "gap")


def test_two_local_workers_give_the_numbers_of_one():
    tasks = study_tasks(3, 7, [0.0, 10.0])
    one, where_one = run_tasks(run_fedsllm_task, tiny_spec(), tasks, fedsllm_task_failure, ClusterSettings(workers=1))
    two, where_two = run_tasks(run_fedsllm_task, tiny_spec(), tasks, fedsllm_task_failure, ClusterSettings(workers=2))
    assert (where_one["workers"], where_two["workers"]) == (1, 2)
    assert [(r["drop"], r["sweep_value"], r["strategy"]) for r in one] == \
        [(r["drop"], r["sweep_value"], r["strategy"]) for r in two]
    assert [r["drop"] for r in two][::8] == [0, 1, 2]  # task order: drop-major, 2 powers x 4 strategies
    for a, b in zip(one, two):
        assert a["status"] == b["status"] == "ok"
        assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in NUMBERS), \
            {k: (a[k], b[k]) for k in NUMBERS}
    # Proposed <= EB <= BA and Proposed <= FE <= BA on every drop (the study's own consistency)
    for start in range(0, len(two), 4):
        t = {r["strategy"]: r["T_s"] for r in two[start:start + 4]}
        assert t["Proposed"] <= t["EB"] * (1 + 1e-9) <= t["BA"] * (1 + 1e-9)
        assert t["Proposed"] <= t["FE"] * (1 + 1e-9) <= t["BA"] * (1 + 1e-9)


def hand_interval(values: list[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = T_TABLE[n - 1] * std / math.sqrt(n)
    return mean, mean - half, mean + half


def test_study_report_means_and_intervals_by_hand(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["study=monte_carlo", "drops=4", "users=4", "seed=3", "sweep.name=power_dbm", "sweep.values=[0,10]",
                 "dask.workers=2", "progress=false", f"out={out}"])
    assert code == EXIT_OK
    for name in ("runs.csv", "runs.parquet", "means.csv", "reductions.csv", "failures.csv", "fig2.png",
                 "fedsllm.xlsx"):
        assert (out / name).exists(), name
    runs = list(csv.DictReader(open(out / "runs.csv")))
    assert len(runs) == 4 * 2 * 4 and {int(r["seed"]) for r in runs} == {3, 4, 5, 6}
    assert pd.read_parquet(out / "runs.parquet")["T_s"].tolist() == pytest.approx([float(r["T_s"]) for r in runs],
                                                                                   rel=1e-15)
    means = {(r["power_dbm"], r["strategy"]): r for r in csv.DictReader(open(out / "means.csv"))}
    for power in ("0.0", "10.0"):
        for strategy in ("Proposed", "BA"):
            values = [float(r["T_s"]) for r in runs if r["power_dbm"] == power and r["strategy"] == strategy]
            mean, low, high = hand_interval(values)
            row = means[power, strategy]
            assert float(row["mean"]) == pytest.approx(mean, rel=1e-12)
            assert (float(row["ci95_low"]), float(row["ci95_high"])) == pytest.approx((low, high), rel=1e-9)
            assert row["runs_ok"] == "4" and row["runs_failed"] == "0"
    # the reduction over the whole sweep: each drop's mean over the powers, then the interval over drops
    per_drop = []
    for drop in range(4):
        pairs = [(float(p["T_s"]), float(b["T_s"])) for p in runs for b in runs
                 if p["drop"] == b["drop"] == str(drop) and p["power_dbm"] == b["power_dbm"]
                 and p["strategy"] == "Proposed" and b["strategy"] == "BA"]
        per_drop.append(sum(1 - p / b for p, b in pairs) / len(pairs))
    overall = next(r for r in csv.DictReader(open(out / "reductions.csv")) if r["scope"] == "whole sweep")
    mean, low, high = hand_interval(per_drop)
    assert (float(overall["mean"]), float(overall["ci95_low"]), float(overall["ci95_high"])) == \
        pytest.approx((mean, low, high), rel=1e-9)
    assert "95 % CI" in capsys.readouterr().out


def test_failed_runs_are_listed_and_counted(tmp_path):
    out = tmp_path / "study"
    # one structured solve per drop is not enough for the global search: every Proposed run fails
    assert main(["study=monte_carlo", "drops=2", "users=3", "monte_carlo.solve_limit=1", "dask.workers=1",
                 "progress=false", f"out={out}"]) == EXIT_OK
    failures = list(csv.DictReader(open(out / "failures.csv")))
    assert [(f["drop"], f["strategy"]) for f in failures] == [("0", "Proposed"), ("1", "Proposed")]
    assert all("solve" in f["message"] and f["seed"] for f in failures)
    summary = {r["name"]: r["value"] for r in csv.DictReader(open(out / "summary.csv"))}
    assert summary["runs_failed"] == "2" and summary["runs"] == "8"
    means = {r["strategy"]: r for r in csv.DictReader(open(out / "means.csv"))}
    assert (means["Proposed"]["runs_ok"], means["Proposed"]["runs_failed"]) == ("0", "2")
    assert (means["BA"]["runs_ok"], means["BA"]["runs_failed"]) == ("2", "0")


@pytest.mark.parametrize("overrides, expected", [
    (["drops=-1"], "drops=-1: expected a whole number >= 1"),
    (["sweep.name=powr_dbm", "sweep.values=[1]"], "sweep.name=powr_dbm: expected one of"),
    (["sweep.name=power_dbm"], "sweep.values=[]: expected at least one value of power_dbm"),
    (["sweep.name=users", "sweep.values=[0.5]"], "sweep.values: 0.5: expected a whole number"),
    (["dask.scheduler=localhost"], "dask.scheduler=localhost: expected an address like tcp://HOST:PORT"),
])
def test_broken_study_settings_are_refused(tmp_path, capsys, overrides, expected):
    out = tmp_path / "study"
    assert main(["study=monte_carlo", *overrides, f"out={out}"]) == EXIT_INPUT
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_card_study_traces_the_pareto_curve(tmp_path):
    out = tmp_path / "card"
    assert main(["model=card", "study=monte_carlo", "drops=3", "rounds=2", "sweep.name=w", "sweep.values=[0.2,0.8]",
                 "dask.workers=2", "progress=false", f"out={out}"]) == EXIT_OK
    for name in ("fig4_w_0.2.png", "fig4_w_0.8.png", "pareto.png", "runs.parquet"):
        assert (out / name).exists()
    runs = list(csv.DictReader(open(out / "runs.csv")))
    assert len(runs) == 3 * 2 * 3 * 3  # drops x w x states x methods
    means = {(r["w"], r["channel_state"], r["strategy"], r["metric"]): float(r["mean"])
             for r in csv.DictReader(open(out / "means.csv"))}
    # more weight on delay: CARD is faster and spends more energy (each drop's CARD is optimal for its w)
    assert means["0.8", "Normal", "CARD", "delay_s"] < means["0.2", "Normal", "CARD", "delay_s"]
    assert means["0.8", "Normal", "CARD", "energy_j"] > means["0.2", "Normal", "CARD", "energy_j"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_study_on_an_external_scheduler_and_worker(tmp_path):
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = open(tmp_path / "dask.log", "w")
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=logs, stderr=logs, env=env)
    worker = None
    try:
        worker = subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                   "--no-dashboard", "--name", "external"], stdout=logs, stderr=logs, env=env)
        with Client(address, timeout=30) as client:
            assert _wait_for(lambda: len(client.scheduler_info()["workers"]) == 1, 60), "the worker never joined"
            external = next(iter(client.scheduler_info()["workers"]))
        out = tmp_path / "study"
        assert main(["study=monte_carlo", "drops=2", "users=3", f"dask.scheduler={address}", "progress=false",
                     f"out={out}"]) == EXIT_OK
        runs = list(csv.DictReader(open(out / "runs.csv")))
        assert {r["worker"] for r in runs} == {external}  # every task ran on the external worker
        summary = {r["name"]: r["value"] for r in csv.DictReader(open(out / "summary.csv"))}
        assert summary["dask_scheduler"] == address and summary["dask_workers"] == "1"
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        logs.close()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["study=monte_carlo", "drops=1", "users=3", f"dask.scheduler=tcp://127.0.0.1:{_free_port()}",
                 "progress=false", f"out={out}"])
    assert code != EXIT_OK
    error = capsys.readouterr().err
    assert "no Dask scheduler answered" in error and "Traceback" not in error
    assert not out.exists()


def test_ctrl_c_cancels_the_study_and_writes_nothing(tmp_path):
    out = tmp_path / "study"
    process = subprocess.Popen([sys.executable, "-m", "solvers.run", "study=monte_carlo", "drops=400", "users=20",
                                "dask.workers=1", f"out={out}"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in process.stderr:
        if "study on" in line and "[" in line:  # the first task finished: the study is running
            break
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 130, error
    assert "nothing was written" in error and "Traceback" not in error
    assert not out.exists()
