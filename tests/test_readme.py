"""The README documents every workbook field and every configuration key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from data.schema import FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS
from solvers.config import EtaConfig, FedsllmConfig, SolverConfig

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("field", FEDSLLM_PARAMETERS + FEDSLLM_USER_COLUMNS, ids=lambda f: f.name)
def test_workbook_field_is_documented(field):
    assert f"`{field.name}`" in README


@pytest.mark.parametrize("key", [f.name for f in fields(FedsllmConfig) if f.name not in ("model_name", "solver", "eta")]
                         + [f"eta.{f.name}" for f in fields(EtaConfig)]
                         + [f"solver.{f.name}" for f in fields(SolverConfig)])
def test_configuration_key_is_documented(key):
    assert f"`{key}`" in README
