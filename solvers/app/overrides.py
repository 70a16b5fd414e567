"""The command line's overrides: parsed in Hydra's syntax, checked against the model's keys (every
problem at once, with the nearest key), expanded into one list per job and composed into a config.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hydra import compose, initialize
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from reports.files.run_files import default_out
from solvers.app.config import MODEL_CONFIGS, ConfigError, check_settings, known_keys, nearest_key, register_configs


SOLVER_OPTIONS_PREFIX = "solver.options."
HYDRA_PATH_KEYS = {"hydra.run.dir": "out", "hydra.sweep.dir": "sweep_dir"}


@dataclass
class Overrides:
    """The checked overrides: the model, what Hydra composes, and the sweep folder of a multirun."""

    model: str
    hydra: list[Override]
    sweep_dir: str | None = None


def _parse(texts: list[str]) -> list[Override]:
    parser = OverridesParser.create()
    parsed, problems = [], []
    for text in texts:
        try:
            parsed += parser.parse_overrides([text])
        except OverrideParseException as error:
            reason = str(error).splitlines()[0]
            problems.append(f"{text}: not a key=value override ({reason})")
    if problems:
        raise ConfigError.listing("bad override", problems)
    return parsed


def check_overrides(texts: list[str], multirun: bool) -> Overrides:
    """Every override against the chosen model's keys; every problem at once, with the nearest key."""
    parsed = _parse(texts)
    models = [o for o in parsed if o.key_or_group == "model"]
    model = str(models[-1].value()) if models and not models[-1].is_sweep_override() else "fedsllm"
    problems = []
    if model not in MODEL_CONFIGS:
        problems.append(f"model={model}: expected one of {', '.join(MODEL_CONFIGS)}")
        model = "fedsllm"
    known = set(known_keys(model))
    kept, sweep_dir = [], None
    for override in parsed:
        key, text = override.key_or_group, override.input_line
        if override.is_sweep_override() and not multirun:
            problems.append(f"{text}: several values; add -m (--multirun) to run one job per value")
            continue
        if key == "model":
            if override.is_sweep_override():
                problems.append(f"{text}: sweep one model at a time (its keys differ)")
            continue
        if key in HYDRA_PATH_KEYS:
            if HYDRA_PATH_KEYS[key] == "out":
                kept.append(_as_change(override, "out"))
            else:
                sweep_dir = str(override.value())
            continue
        if key.startswith("hydra."):
            problems.append(f"{text}: fedsplit uses Hydra's override syntax but not its run folders; "
                            f"use out=FOLDER (or hydra.run.dir / hydra.sweep.dir)")
            continue
        if override.type is OverrideType.DEL:
            problems.append(f"{text}: keys cannot be deleted; set a value instead")
            continue
        if key.startswith(SOLVER_OPTIONS_PREFIX) and len(key) > len(SOLVER_OPTIONS_PREFIX):
            kept.append(_as_add(override))
            continue
        if key not in known:
            guess = nearest_key(key.lstrip("+"), model)
            hint = f" (did you mean {guess}?)" if guess else ""
            problems.append(f"{text}: model={model} has no key '{key}'{hint}; --help lists the keys")
            continue
        if override.type is not OverrideType.CHANGE:
            problems.append(f"{text}: {key} exists; write {key}=VALUE")
            continue
        kept.append(override)
    if problems:
        raise ConfigError.listing("bad override", problems)
    return Overrides(model, kept, sweep_dir)


def _as_change(override: Override, key: str) -> Override:
    return _reparsed(f"{key}={_value_text(override)}")


def _as_add(override: Override) -> Override:
    return _reparsed(f"+{override.key_or_group}={_value_text(override)}")


def _value_text(override: Override) -> str:
    return override.input_line.split("=", 1)[1]


def _reparsed(text: str) -> Override:
    return OverridesParser.create().parse_overrides([text])[0]


def job_overrides(overrides: Overrides) -> list[list[str]]:
    """One list of override texts per job: the cartesian product of the swept values, in order."""
    choices = []
    for override in overrides.hydra:
        element = override.get_key_element()
        if override.is_sweep_override():
            try:
                values = list(override.sweep_string_iterator())
            except HydraException as error:
                raise ConfigError(f"{override.input_line}: {error}") from None
            choices.append([f"{element}={value}" for value in values])
        else:
            choices.append([override.input_line])
    return [[f"model={overrides.model}", *combination] for combination in itertools.product(*choices)]


def compose_config(overrides: list[str]) -> DictConfig:
    register_configs()
    try:
        with initialize(version_base=None, config_path=None):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        # Hydra wraps OmegaConf's type errors; the reason is in the chained cause.
        reason = str(error).splitlines()[0]
        if error.__cause__ is not None:
            reason = f"{reason}: {str(error.__cause__).splitlines()[0]}"
        raise ConfigError(f"bad setting: {reason}") from None


def checked_config(overrides: list[str]) -> DictConfig:
    """The composed configuration, range-checked, with its report folder filled in."""
    cfg = compose_config(overrides)
    settings = OmegaConf.to_object(cfg)
    check_settings(settings)
    if cfg.out is None:
        cfg.out = str(default_out(settings.report_label()))
    return cfg
