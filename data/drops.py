"""Random drops for Monte Carlo studies: one fresh scenario per drop, from a base case and a seed.

A drop is everything the papers' figures average over. Each drop's seed is `seed + drop`, so a study is
reproducible and any single drop can be redrawn on its own.
- FedsLLM: the generator (data/fedsllm/generate.py) draws the users' positions, shadowing, sample counts and
  C_k anew; the workbook's `parameters` sheet is the base case; K is the workbook's number of users
  unless swept.
- CARD: the devices' distances, uniform in [5, 25] m as in `data.card.generate`, and the Rayleigh
  fading |h|^2 (the workbook's `seed` parameter) are redrawn; everything else is the workbook's.

A sweep sets one quantity per point: FedsLLM `power_dbm` (every user's maximum power on both links,
Fig. 2), `users` (K), or any numeric parameter of the workbook (the bandwidths among them); CARD `w` or
any other numeric parameter.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from data.card.inputs import CardInputs
from data.fedsllm.inputs import FedsllmInputs
from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory
from data.card.generate import CardWorkbookSettings
from data.schema import CARD_PARAMETERS, FEDSLLM_PARAMETERS, Field, Kind

FEDSLLM_SWEEPS = ("power_dbm", "users")  # besides the numeric workbook parameters


def _numeric(fields: tuple[Field, ...], excluded: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in fields if f.kind in (Kind.REAL, Kind.INTEGER) and f.name not in excluded)


def fedsllm_sweep_names() -> tuple[str, ...]:
    return (*FEDSLLM_SWEEPS, *_numeric(FEDSLLM_PARAMETERS, ("eta_step",)))


def card_sweep_names() -> tuple[str, ...]:
    return _numeric(CARD_PARAMETERS, ("seed",))


def sweep_field(model: str, name: str) -> Field | None:
    """The schema field a swept value replaces (None for power_dbm and users, checked by the caller)."""
    fields = FEDSLLM_PARAMETERS if model == "fedsllm" else CARD_PARAMETERS
    return next((f for f in fields if f.name == name), None)


def drop_seed(seed: int, drop: int) -> int:
    return int(seed) + int(drop)


def fedsllm_drop(parameters: dict[str, float], users: int, seed: int, sweep_name: str | None = None,
                 sweep_value: float | None = None, draws: dict | None = None) -> FedsllmInputs:
    """One FedsLLM drop: K users drawn with `seed`, the base case's parameters, the sweep point applied.
    `draws` (a dict the caller keeps) remembers each (K, seed)'s users, so that the sweep points of one
    drop draw them once."""
    parameters = dict(parameters)
    if sweep_name == "users":
        users = int(sweep_value)
    elif sweep_name not in (None, "power_dbm"):
        parameters[sweep_name] = float(sweep_value)
    settings = ScenarioSettings(users=users, seed=seed)
    if draws is None:
        drawn = draw_users(settings)
    else:
        if (users, seed) not in draws:
            draws[users, seed] = draw_users(settings)
        drawn = {name: column.copy() for name, column in draws[users, seed].items()}
    inputs = fedsllm_inputs_in_memory(drawn, parameters, source=f"drop with seed {seed}")
    if sweep_name == "power_dbm":
        inputs = inputs.with_power_dbm(float(sweep_value))
    return inputs


def card_drop(base: CardInputs, seed: int, sweep_name: str | None = None,
              sweep_value: float | None = None) -> CardInputs:
    """One CARD drop: device distances and fading redrawn from `seed`, the sweep point applied."""
    defaults = CardWorkbookSettings()
    rng = np.random.default_rng(seed)
    distances = rng.uniform(defaults.distance_min_m, defaults.distance_max_m, len(base.device_ids))
    inputs = replace(base, devices={**base.devices, "distance_m": distances},
                     source=f"{base.source}, drop with seed {seed}")
    changes: dict[str, object] = {"seed": int(seed)}
    if sweep_name is not None:
        whole = sweep_field("card", sweep_name).kind is Kind.INTEGER
        changes[sweep_name] = int(sweep_value) if whole else float(sweep_value)
    return inputs.with_parameters(**changes)
