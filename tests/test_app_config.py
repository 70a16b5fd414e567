"""The configuration is the one source of the keys: every numeric key's range is a schema Field, help and
completion list every key and choice, and the notebook API's typed settings name every wrong value."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import get_args, get_type_hints

import pytest

from data.schema import CHANNEL_STATES, Field
from solvers import api
from solvers.app import config
from solvers.app.config import MODEL_CONFIGS
from solvers.app.help import completion_script, help_text, key_help

# Keys whose check is a rule between settings, not a range: the sweep's values are checked as the swept
# quantity, crosscheck.rounds is "all" or a count of rounds, solver.options is Ipopt's to judge.
RULE_CHECKED = {"sweep.values", "crosscheck.rounds", "solver.options"}


def leaves(config_class, prefix=""):
    hints = get_type_hints(config_class)
    instance = config_class()
    for item in fields(config_class):
        value = getattr(instance, item.name)
        if is_dataclass(value):
            yield from leaves(type(value), f"{prefix}{item.name}.")
        elif not item.metadata.get("internal"):
            yield f"{prefix}{item.name}", hints[item.name], item.metadata


def numeric(kind) -> bool:
    options = (kind, *get_args(kind))
    return any(k in (int, float) for k in options) or any(get_args(k) == (float,) for k in options)


@pytest.mark.parametrize("model", MODEL_CONFIGS)
def test_every_numeric_key_has_a_schema_field(model):
    missing = [key for key, kind, metadata in leaves(MODEL_CONFIGS[model])
               if numeric(kind) and key not in RULE_CHECKED and not isinstance(metadata.get("valid"), Field)]
    assert not missing


@pytest.mark.parametrize("model", MODEL_CONFIGS)
def test_help_and_completion_list_every_key_and_choice(model):
    completion, shown = completion_script("install=bash"), help_text(model)
    for key in key_help(MODEL_CONFIGS[model]):
        assert f"{key.key}=" in completion and f"  {key.key} " in shown
        assert all(f"{key.key}={choice}" in completion for choice in key.choices)
    assert all(f"channel_state={state}" in completion for state in CHANNEL_STATES)


def test_typed_settings_name_every_wrong_value_at_once():
    with pytest.raises(api.FedsplitError) as caught:
        api.typed_settings("fedsllm", {"eta__step": "fine", "problem16": 1, "study": "fast", "drops": 2.5,
                                       "out": "here", "eta__stepp": 0.1})
    problems = caught.value.problems
    assert len(problems) == 6 and caught.value.exit_code == 2
    assert any(p.startswith("eta.step=fine: expected a number") for p in problems)
    assert any("did you mean eta__step" in p for p in problems)
    settings = api.typed_settings("card", {"channel_state": "Poor", "w": 1, "crosscheck__rounds": 2})
    assert (settings.channel_state.value, settings.w, settings.crosscheck.rounds) == ("Poor", 1.0, "2")
    with pytest.raises(api.FedsplitError, match="w=1.5: expected a finite number >= 0 and <= 1"):
        api.typed_settings("card", {"w": 1.5})
