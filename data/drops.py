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
from typing import TYPE_CHECKING

from data.schema import Kind, sweep_field  # noqa: F401 (what a sweep may set is the schema's: data/schema.py)

if TYPE_CHECKING:  # what a drop is; imported where drops are drawn (numpy), not by the command line's checks
    from data.card.inputs import CardInputs
    from data.fedsllm.inputs import FedsllmInputs


def drop_seed(seed: int, drop: int) -> int:
    return int(seed) + int(drop)


def fedsllm_drop(parameters: dict[str, float], users: int, seed: int, sweep_name: str | None = None,
                 sweep_value: float | None = None, draws: dict | None = None) -> FedsllmInputs:
    """One FedsLLM drop: K users drawn with `seed`, the base case's parameters, the sweep point applied.
    `draws` (a dict the caller keeps) remembers each (K, seed)'s users, so that the sweep points of one
    drop draw them once."""
    from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory  # noqa: PLC0415

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
    import numpy as np  # noqa: PLC0415
    from data.card.generate import CardWorkbookSettings  # noqa: PLC0415 (the writers import openpyxl)

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
