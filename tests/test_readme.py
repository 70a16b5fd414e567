"""The README is for users first: a short quick start, then a guide that documents every workbook field and
every configuration key (both lists read from the code), and links to docs/ for the rest."""

from __future__ import annotations

import re
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
from solvers.app.config import MODEL_CONFIGS
from solvers.app.help import key_help

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
LINES = README.splitlines()
QUICK_START_LINES, README_LINES = 60, 450

ALL_FIELDS = (FEDSLLM_PARAMETERS + FEDSLLM_USER_COLUMNS + CARD_PARAMETERS + CARD_SERVER_COLUMNS + CARD_DEVICE_COLUMNS
              + CARD_LLM_COLUMNS + CARD_CQI_COLUMNS + CARD_LAYER_COLUMNS)
ALL_KEYS = sorted({k.key for config in MODEL_CONFIGS.values() for k in key_help(config)})


@pytest.mark.parametrize("field", ALL_FIELDS, ids=lambda f: f.name)
def test_workbook_field_is_documented(field):
    assert f"`{field.name}`" in README


@pytest.mark.parametrize("key", ALL_KEYS)
def test_configuration_key_is_documented(key):
    assert f"`{key}`" in README


def test_the_quick_start_comes_first_and_the_readme_stays_short():
    headings = [i for i, line in enumerate(LINES) if line.startswith("## ")]
    assert LINES[headings[0]] == "## Quick start" and headings[1] <= QUICK_START_LINES
    quick_start = "\n".join(LINES[:headings[1]])
    for needed in ("./fedsplit run model=fedsllm", "./fedsplit test", "report:", "summary.csv", "api.solve"):
        assert needed in quick_start
    assert len(LINES) <= README_LINES


def test_every_link_to_docs_exists():
    for target in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / target).is_file(), target
