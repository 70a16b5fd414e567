"""Shared fixtures: the default workbook, small hand-made scenarios, broken copies."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for reference_fedsllm

from data.fedsllm.inputs import DEFAULT_WORKBOOK  # noqa: E402
from data.fedsllm.generate import write_fedsllm_workbook  # noqa: E402
from reference_fedsllm import Scenario, scenario_from_values  # noqa: E402

# The pinned defaults of docs/fedsllm.md ("Values the paper leaves out"), typed here by hand.
SPEC_PARAMETERS = {
    "L": 3.2035, "gamma": 2.9767, "xi": 0.1, "delta": 0.1, "eps0": 1e-3,
    "smashed_bits": 281e3, "model_upload_bits": 28.1e3,
    "bandwidth_main_hz": 20e6, "bandwidth_fed_hz": 20e6, "noise_psd_dbm_per_hz": -174.0,
    "server_cpu_max_hz": 20e9, "client_share_min": 0.1, "client_share_max": 0.9, "eta_step": 0.01,
    "kappa": 1e-28, "server_kappa": 1e-28,  # the spec's "Energy": the paper's kappa, and kappa_s = kappa
}


def users_table(gains_main_db, gains_fed_db=None, samples=None, cycles=None, cpu_hz=2e9, power_dbm=10.0):
    """A `users` sheet as column arrays, for a few users written by hand."""
    count = len(gains_main_db)
    gains_fed_db = gains_main_db if gains_fed_db is None else gains_fed_db
    return {
        "user": np.arange(1, count + 1),
        "distance_m": np.full(count, 100.0),
        "shadowing_db": np.zeros(count),
        "gain_main_db": np.asarray(gains_main_db, float),
        "gain_fed_db": np.asarray(gains_fed_db, float),
        "samples": np.asarray(samples if samples is not None else [1200] * count),
        "cycles_per_sample": np.asarray(cycles if cycles is not None else [2e4] * count, float),
        "cpu_max_hz": np.full(count, cpu_hz),
        "power_main_max_dbm": np.full(count, power_dbm),
        "power_fed_max_dbm": np.full(count, power_dbm),
    }


def reference_scenario(users: dict, parameters: dict | None = None) -> Scenario:
    """The same scenario for the independent reference, from the raw values."""
    p = {**SPEC_PARAMETERS, **(parameters or {})}
    return scenario_from_values(
        L=p["L"], gamma=p["gamma"], xi=p["xi"], delta=p["delta"], eps0=p["eps0"],
        cycles_per_sample=users["cycles_per_sample"], samples=users["samples"], cpu_hz=users["cpu_max_hz"],
        server_cpu_hz=p["server_cpu_max_hz"], client_share=p["client_share_min"],
        smashed_bits=p["smashed_bits"], upload_bits=p["model_upload_bits"],
        gain_main_db=users["gain_main_db"], gain_fed_db=users["gain_fed_db"],
        power_main_dbm=users["power_main_max_dbm"], power_fed_dbm=users["power_fed_max_dbm"],
        noise_dbm_per_hz=p["noise_psd_dbm_per_hz"],
        bandwidth_main_hz=p["bandwidth_main_hz"], bandwidth_fed_hz=p["bandwidth_fed_hz"],
    )


@pytest.fixture
def make_workbook(tmp_path):
    """Write a FedsLLM workbook from column arrays and parameter overrides."""
    def make(users: dict, parameters: dict | None = None, name: str = "scenario.xlsx") -> Path:
        return write_fedsllm_workbook(tmp_path / name, users, {**SPEC_PARAMETERS, **(parameters or {})})

    return make


@pytest.fixture
def broken_copy(tmp_path):
    """Copy a shipped workbook (FedsLLM's by default), let the test edit it with openpyxl, return the path."""
    def edit(change, source: Path = DEFAULT_WORKBOOK) -> Path:
        path = tmp_path / f"broken-{source.name}"
        shutil.copy(source, path)
        workbook = openpyxl.load_workbook(path)
        change(workbook)
        workbook.save(path)
        return path

    return edit
