"""Sensitivity studies on a real Dask cluster: an output that provably ignores a factor, the indices by hand
from the tidy table, workers, failed points and bad ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.errors import EXIT_INPUT
from solvers.app.cli import main
from solvers.app.jobs import EXIT_OK

# Every client of the shipped workbook (2 GHz) is slower than the server over this whole range (>= 5 GHz), so
# A* = A_min (Problem (16) reduces to (17)) and nothing the study computes reads client_share_max.
FACTORS = "{server_cpu_max_hz:[5e9,4e10],client_share_max:[0.5,0.9],bandwidth_main_hz:[5e6,4e7]}"
NAMES = ["server_cpu_max_hz", "client_share_max", "bandwidth_main_hz"]
BOUNDS = {"server_cpu_max_hz": (5e9, 4e10), "client_share_max": (0.5, 0.9), "bandwidth_main_hz": (5e6, 4e7)}
OUTPUTS = ["T_s", "eta", "reduction_vs_BA"]
LEVELS = 4


def _study(out, *overrides) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    assert main(["study=sensitivity", "progress=false", "seed=5", *overrides, f"out={out}"]) == EXIT_OK
    summary = pd.read_csv(out / "summary.csv").set_index("name")["value"]
    return pd.read_csv(out / "points.csv"), pd.read_csv(out / "indices.csv"), summary


@pytest.fixture(scope="module")
def morris_on_two(tmp_path_factory):
    return _study(tmp_path_factory.mktemp("m2") / "r", f"sensitivity.parameters={FACTORS}", "sensitivity.samples=3",
                  "dask.workers=2")


def _elementary_effects(points: pd.DataFrame, output: str) -> dict[str, list[float]]:
    """Per factor, (y_after - y_before) / (its step as a fraction of its range) along each trajectory, the step
    recovered from the table's values."""
    effects = {name: [] for name in NAMES}
    for _, trajectory in points.groupby("group"):
        rows = trajectory.sort_values("point")
        for (_, before), (_, after) in zip(rows.iterrows(), rows.iloc[1:].iterrows()):
            moved = [n for n in NAMES if after[n] != before[n]]
            assert len(moved) == 1  # a Morris trajectory moves one factor per step
            name = moved[0]
            low, high = BOUNDS[name]
            step = (after[name] - before[name]) / (high - low)
            assert abs(step) == pytest.approx(LEVELS / (2 * (LEVELS - 1)))
            effects[name].append((after[output] - before[output]) / step)
    return effects


def test_morris_indices_by_hand_and_an_ignored_factor(morris_on_two):
    points, indices, summary = morris_on_two
    assert (points["status"] == "ok").all() and len(points) == 3 * (len(NAMES) + 1)
    for output in OUTPUTS:
        effects = _elementary_effects(points, output)
        for name, values in effects.items():
            row = indices[(indices["output"] == output) & (indices["parameter"] == name)].iloc[0]
            assert row["mu_star"] == pytest.approx(np.mean(np.abs(values)), rel=1e-9, abs=1e-15)
            assert row["mu"] == pytest.approx(np.mean(values), rel=1e-9, abs=1e-15)
            assert row["sigma"] == pytest.approx(np.std(values, ddof=1), rel=1e-9, abs=1e-15)
            assert row["groups"] == 3 and row["points"] == 12
        ignored = indices[(indices["output"] == output) & (indices["parameter"] == "client_share_max")].iloc[0]
        assert ignored["mu_star"] == 0.0 and ignored["sigma"] == 0.0 and ignored["mu_star_conf"] == 0.0
        assert ignored["rank"] == len(NAMES)
    # the bandwidth moves T*: a smaller band, a longer training
    t_bandwidth = indices[(indices["output"] == "T_s") & (indices["parameter"] == "bandwidth_main_hz")].iloc[0]
    assert t_bandwidth["rank"] == 1 and t_bandwidth["mu"] < 0
    assert int(summary["points_failed"]) == 0


def test_one_worker_gives_the_numbers_of_two(morris_on_two, tmp_path):
    points, indices, _ = _study(tmp_path / "r", f"sensitivity.parameters={FACTORS}", "sensitivity.samples=3",
                                "dask.workers=1")
    two_points, two_indices, _ = morris_on_two
    numbers = NAMES + OUTPUTS
    assert points[numbers].equals(two_points[numbers])
    assert indices.drop(columns=[]).equals(two_indices)


def test_the_per_point_engine_gives_the_batched_numbers(morris_on_two, tmp_path):
    """monte_carlo.engine=per_task (one Dask task per point, the reference) against the default chunks on
    the batched engine."""
    points, indices, summary = _study(tmp_path / "r", f"sensitivity.parameters={FACTORS}", "sensitivity.samples=3",
                                      "dask.workers=2", "monte_carlo.engine=per_task")
    batched_points, batched_indices, batched_summary = morris_on_two
    assert summary["study_engine"] == "per_task" and batched_summary["study_engine"] == "batched"
    assert np.allclose(points[OUTPUTS], batched_points[OUTPUTS], rtol=1e-9, atol=1e-12)
    assert np.allclose(indices[["mu_star", "sigma", "mu"]], batched_indices[["mu_star", "sigma", "mu"]],
                       rtol=1e-7, atol=1e-12)


def test_sobol_gives_an_ignored_factor_no_share(tmp_path, capsys):
    points, indices, _ = _study(tmp_path / "r", "sensitivity.method=sobol", f"sensitivity.parameters={FACTORS}",
                                "sensitivity.samples=4", "dask.workers=2")
    assert len(points) == 4 * (len(NAMES) + 2)
    ignored = indices[indices["parameter"] == "client_share_max"]
    assert len(ignored) == len(OUTPUTS)
    assert (ignored[["S1", "ST", "S1_conf", "ST_conf"]] == 0.0).all().all()
    moved = indices[(indices["output"] == "T_s") & (indices["parameter"] == "bandwidth_main_hz")].iloc[0]
    assert moved["ST"] > 0.5 and moved["rank"] == 1
    assert "reduction_vs_BA: bandwidth_main_hz" in capsys.readouterr().out


def test_a_failed_point_is_listed_and_the_indices_say_what_they_rest_on(tmp_path):
    # client_share_min above client_share_max breaks a rule between the parameters (A_min <= A_max)
    factors = "{client_share_min:[0.1,0.8],client_share_max:[0.5,0.9],bandwidth_main_hz:[5e6,4e7]}"
    points, indices, summary = _study(tmp_path / "r", f"sensitivity.parameters={factors}", "sensitivity.samples=6",
                                      "dask.workers=2")
    failed = points[points["status"] == "failed"]
    broken = points["client_share_min"] > points["client_share_max"]
    assert len(failed) > 0 and (failed.index == points.index[broken]).all()
    assert failed["message"].str.contains("client_share_min <= client_share_max").all()
    assert failed["T_s"].isna().all()
    assert int(summary["points_failed"]) == len(failed)
    complete = points.groupby("group")["status"].apply(lambda s: (s == "ok").all())
    for _, row in indices.iterrows():
        assert row["groups"] == complete.sum() and row["groups_total"] == 6
        assert row["points"] == complete.sum() * 4


def test_ranges_outside_the_schema_are_refused_at_once(tmp_path, capsys):
    out = tmp_path / "r"
    factors = "{server_cpu_max_hz:[0,4e10],client_share_max:[0.5,1.5],bogus:[1,2],users.cpu_max_hz:[0,2]}"
    assert main(["study=sensitivity", f"sensitivity.parameters={factors}", f"out={out}"]) == EXIT_INPUT
    text = capsys.readouterr().err
    assert "server_cpu_max_hz=[0, 4e+10]: outside server_cpu_max_hz's allowed range, a finite number >= 1000 " \
           "and <= 1e+15 (Hz)" in text
    assert "client_share_max=[0.5, 1.5]: outside client_share_max's allowed range, a finite number >= 0 and <= 1" \
           in text
    assert "sensitivity.parameters.bogus: not a numeric parameter of model=fedsllm" in text
    assert "users.cpu_max_hz=[0, 2]: expected a factor > 0" in text
    assert not out.exists()


def test_a_column_factor_that_leaves_the_columns_range_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["study=sensitivity", "sensitivity.parameters={users.cpu_max_hz:[0.5,1e7]}", f"out={out}"]) \
        == EXIT_INPUT
    assert "at 1e+07 the column leaves its allowed range" in capsys.readouterr().err
    assert not out.exists()


def _fedsllm_spec(factors_text: dict, energy=None):
    from data.fedsllm.inputs import load_fedsllm
    from solvers.studies.fedsllm import FedsllmStudySpec
    from solvers.studies.sensitivity import SensitivitySpec
    from solvers.studies.sensitivity_points import factors_of

    base = load_fedsllm()
    factors = tuple(factors_of("fedsllm", factors_text))
    model_spec = FedsllmStudySpec(dict(base.parameters), base.user_count, None, 0.1, 1e-4, 1e-9, 5000, "search")
    return SensitivitySpec(base, factors, model_spec, energy)


def test_batched_points_equal_the_per_point_reference():
    """The points of a chunk solved together on the batched engine give the per-point path's T*, eta* and
    reduction, a point that breaks a rule (client_share_min > client_share_max) failing alone in both."""
    from solvers.studies.sensitivity import SensitivityChunk, run_fedsllm_point, run_fedsllm_points, sample_design
    from solvers.studies.sensitivity_points import SensitivityMethod

    spec = _fedsllm_spec({"client_share_min": [0.1, 0.8], "client_share_max": [0.5, 0.9],
                          "bandwidth_main_hz": [5e6, 4e7], "users.gain_main_db": [0.5, 2]})
    design = sample_design(SensitivityMethod.morris, list(spec.factors), 3, LEVELS, 7)
    tasks = design.tasks()
    batched = run_fedsllm_points(spec, SensitivityChunk(tuple(tasks)))
    reference = [row for task in tasks for row in run_fedsllm_point(spec, task)]
    assert [r["point"] for r in batched] == [r["point"] for r in reference] == list(range(len(tasks)))
    assert [r["status"] for r in batched] == [r["status"] for r in reference]
    statuses = {r["status"] for r in batched}
    assert statuses == {"ok", "failed"}, statuses  # the sample holds both kinds of point
    for one, other in zip(batched, reference):
        if one["status"] == "ok":
            assert one["T_s"] == pytest.approx(other["T_s"], rel=1e-9)
            assert one["eta"] == pytest.approx(other["eta"], abs=1e-7)
            assert one["reduction_vs_BA"] == pytest.approx(other["reduction_vs_BA"], abs=1e-9)
        else:
            assert one["message"] == other["message"] and np.isnan(one["T_s"])


def test_energy_is_an_output_and_equals_the_energy_job_at_its_point(tmp_path):
    """objective=energy: E* at each point is Problem (E)'s least energy under 1.2 x that point's T*; at a
    sampled point it equals the energy job's own E* (certified over eta, KKT-checked) on the same values."""
    from data.fedsllm.inputs import DEFAULT_WORKBOOK
    from solvers import api

    factors = "{server_cpu_max_hz:[5e9,4e10],bandwidth_main_hz:[5e6,4e7]}"
    points, indices, _ = _study(tmp_path / "r", "objective=energy", f"sensitivity.parameters={factors}",
                                "sensitivity.samples=2", "dask.workers=1")
    assert (points["status"] == "ok").all() and (points["E_J"] > 0).all()
    units = pd.read_csv(tmp_path / "r" / "units.csv").set_index(["table", "column"])
    assert units.loc[("points", "E_J"), "unit"] == "J"
    assert units.loc[("points", "E_J"), "description"].startswith("E*: the least energy")
    assert set(indices["output"]) == {"T_s", "eta", "reduction_vs_BA", "E_J"}
    point = points.iloc[-1]
    scenario = api.load(DEFAULT_WORKBOOK)
    for name in ("server_cpu_max_hz", "bandwidth_main_hz"):
        scenario.parameters.loc[name, "value"] = float(point[name])
    result = api.solve(scenario, objective="energy", energy__max_delay_factor=1.2)
    assert result.solved, result.lines
    assert result.headline["E_star_j"] == pytest.approx(point["E_J"], rel=1e-5)


def test_a_point_whose_energy_limit_is_below_its_delay_fails_alone_in_its_chunk():
    """objective=energy with a fixed T_max between the points' least delays: the points whose T* is above it
    fail with Problem (E)'s message and keep T*, eta* and the reduction; the chunk's other points get E*."""
    from solvers.studies.sensitivity import EnergyPointSpec, SensitivityChunk, run_fedsllm_points, sample_design
    from solvers.studies.sensitivity_points import SensitivityMethod

    delay_only = _fedsllm_spec({"bandwidth_main_hz": [5e6, 4e7]})
    design = sample_design(SensitivityMethod.morris, list(delay_only.factors), 2, LEVELS, 3)
    chunk = SensitivityChunk(tuple(design.tasks()))
    delays = [row["T_s"] for row in run_fedsllm_points(delay_only, chunk)]
    limit = float(np.median(delays))
    assert min(delays) < limit < max(delays)
    spec = _fedsllm_spec({"bandwidth_main_hz": [5e6, 4e7]}, EnergyPointSpec(limit, 1.2, 1e-6))
    rows = run_fedsllm_points(spec, chunk)
    for row, least in zip(rows, delays):
        assert row["T_s"] == pytest.approx(least, rel=1e-9)
        if least > limit * (1 + 1e-9):
            assert row["status"] == "failed" and np.isnan(row["E_J"])
            assert row["message"].startswith("Problem (E): energy.max_delay_s =")
        else:
            assert row["status"] == "ok" and row["E_J"] > 0
