"""The README documents every workbook field and every configuration key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from data.schema import (
    CARD_CQI_COLUMNS,
    CARD_DEVICE_COLUMNS,
    CARD_LAYER_COLUMNS,
    CARD_LLM_COLUMNS,
    CARD_PARAMETERS,
    CARD_SERVER_COLUMNS,
    FEDSLLM_PARAMETERS,
    FEDSLLM_USER_COLUMNS,
)
from solvers.app.config import CardConfig, CrossCheckConfig, EtaConfig, FedsllmConfig, PowerSweepConfig, SolverConfig

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


ALL_FIELDS = (FEDSLLM_PARAMETERS + FEDSLLM_USER_COLUMNS + CARD_PARAMETERS + CARD_SERVER_COLUMNS + CARD_DEVICE_COLUMNS
              + CARD_LLM_COLUMNS + CARD_CQI_COLUMNS + CARD_LAYER_COLUMNS)


@pytest.mark.parametrize("field", ALL_FIELDS, ids=lambda f: f.name)
def test_workbook_field_is_documented(field):
    assert f"`{field.name}`" in README


@pytest.mark.parametrize("key", sorted(
    {f.name for config in (FedsllmConfig, CardConfig) for f in fields(config)}
    - {"model", "solver", "eta", "power_sweep", "crosscheck"}
    | {f"eta.{f.name}" for f in fields(EtaConfig)} | {f"solver.{f.name}" for f in fields(SolverConfig)}
    | {f"power_sweep.{f.name}" for f in fields(PowerSweepConfig)}
    | {f"crosscheck.{f.name}" for f in fields(CrossCheckConfig)}))
def test_configuration_key_is_documented(key):
    assert f"`{key}`" in README
