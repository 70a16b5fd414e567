"""Draw a FedsLLM scenario workbook as in the paper's simulation (Section IV).

    python -m data.fedsllm.generate users=50 seed=1 area_m=500 out=scenario.xlsx

`out` is relative to the folder the command runs in; an existing file is kept
unless `overwrite=true`.

Users are uniform in a square of side `area_m` centred on the base station
(none closer than `min_distance_m`), path loss 128.1 + 37.6 log10(d/km) dB with
zero-mean Gaussian shadowing of `shadowing_std_db`, sample counts multinomial
over `total_samples` with equal probabilities (left null: the paper's 60,021 for
up to 50 users, and 60,021 K / 50, about 1,200 per user, above, so that any K
draws a sample for everyone), C_k uniform in
[`cycles_min`, `cycles_max`]. Main and fed server share the base station, so
both links get the same gain. Parameters come from the schema defaults.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import Optional
from pathlib import Path

import numpy as np

from data.fedsllm.inputs import FedsllmInputs
from data.input_style import style_workbook
from data.schema import FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS
from data.workbook import append_as_data, generator_main, new_workbook_with_parameters, plain_value, writable_target


@dataclass(frozen=True)
class ScenarioSettings:
    users: int = 50
    seed: int = 1
    area_m: float = 500.0
    min_distance_m: float = 10.0
    shadowing_std_db: float = 8.0
    total_samples: Optional[int] = None  # null: PAPER_TOTAL_SAMPLES, scaled with users above PAPER_USERS
    cycles_min: float = 1e4
    cycles_max: float = 3e4
    cpu_max_hz: float = 2e9
    power_max_dbm: float = 10.0
    out: str = "scenario.xlsx"
    overwrite: bool = False  # replace an existing `out`


PAPER_TOTAL_SAMPLES, PAPER_USERS = 60021, 50  # BlogFeedback over the paper's 50 users


def sample_total(settings: ScenarioSettings) -> int:
    """The samples shared among the users: `total_samples`, or the paper's 60,021 scaled with K above 50."""
    if settings.total_samples is not None:
        return settings.total_samples
    return PAPER_TOTAL_SAMPLES if settings.users <= PAPER_USERS else round(PAPER_TOTAL_SAMPLES * settings.users / PAPER_USERS)


def macro_path_loss_db(distance_m: np.ndarray) -> np.ndarray:
    """Paper's path loss model, 128.1 + 37.6 log10(d / km) (dB)."""
    return 128.1 + 37.6 * np.log10(distance_m / 1000.0)


def draw_positions(rng: np.random.Generator, settings: ScenarioSettings) -> np.ndarray:
    """Distances (m) of users uniform in the square, redrawing any too close to the station."""
    distances = np.empty(settings.users)
    half = settings.area_m / 2.0
    drawn = 0
    while drawn < settings.users:
        x, y = rng.uniform(-half, half, size=2)
        distance = float(np.hypot(x, y))
        if distance >= settings.min_distance_m:
            distances[drawn] = distance
            drawn += 1
    return distances


def draw_users(settings: ScenarioSettings) -> dict[str, np.ndarray]:
    """One value per user for each column of the `users` sheet."""
    total = sample_total(settings)
    if settings.users < 1 or settings.users > total:
        raise ValueError(f"users must be between 1 and total_samples={total}, got {settings.users}")
    if settings.min_distance_m >= settings.area_m / 2:
        raise ValueError("min_distance_m must be below half of area_m")
    rng = np.random.default_rng(settings.seed)
    distance_m = draw_positions(rng, settings)
    shadowing_db = rng.normal(0.0, settings.shadowing_std_db, size=settings.users)
    gain_db = -(macro_path_loss_db(distance_m) + shadowing_db)
    samples = rng.multinomial(total, np.full(settings.users, 1.0 / settings.users))
    if samples.min() < 1:
        raise ValueError("a user drew no samples; use fewer users or more total_samples")
    return {
        "user": np.arange(1, settings.users + 1),
        "distance_m": distance_m,
        "shadowing_db": shadowing_db,
        "gain_main_db": gain_db,
        "gain_fed_db": gain_db.copy(),
        "samples": samples,
        "cycles_per_sample": rng.uniform(settings.cycles_min, settings.cycles_max, size=settings.users),
        "cpu_max_hz": np.full(settings.users, settings.cpu_max_hz),
        "power_main_max_dbm": np.full(settings.users, settings.power_max_dbm),
        "power_fed_max_dbm": np.full(settings.users, settings.power_max_dbm),
    }


def fedsllm_inputs_in_memory(users: dict[str, np.ndarray], parameters: dict[str, float] | None = None,
                             source: str = "generated in memory") -> FedsllmInputs:
    """The scenario a workbook written from `users` would load, without the workbook (any K: a sheet
    holds at most 1,048,576 rows). Parameters are the schema's defaults unless given."""
    values = {spec.name: float((parameters or {}).get(spec.name, spec.default)) for spec in FEDSLLM_PARAMETERS}
    columns = {spec.name: np.asarray(users[spec.name], dtype=float) for spec in FEDSLLM_USER_COLUMNS
               if spec.name != "user"}
    return FedsllmInputs(source, values, tuple(str(int(u)) for u in users["user"]), columns)


def write_fedsllm_workbook(path: Path, users: dict[str, np.ndarray], parameters: dict[str, float] | None = None,
                           about: dict[str, object] | None = None) -> Path:
    """Write a FedsLLM input workbook: `parameters`, `users` and an `about` sheet."""
    workbook = new_workbook_with_parameters(FEDSLLM_PARAMETERS, parameters or {})
    user_sheet = workbook.create_sheet("users")
    names = [spec.name for spec in FEDSLLM_USER_COLUMNS]
    append_as_data(user_sheet, names)
    for index in range(len(users["user"])):
        append_as_data(user_sheet, [plain_value(users[name][index], whole_numbers_as_int=True) for name in names])
    if about:
        about_sheet = workbook.create_sheet("about")
        append_as_data(about_sheet, ["setting", "value"])
        for key, value in about.items():
            append_as_data(about_sheet, [key, value])
    style_workbook(workbook, "fedsllm")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def generate(settings: ScenarioSettings) -> Path:
    writable_target(Path(settings.out), settings.overwrite)
    about = {f.name: getattr(settings, f.name) for f in fields(settings) if f.name not in ("out", "overwrite")}
    about["generator"] = "python -m data.fedsllm.generate"
    return write_fedsllm_workbook(Path(settings.out), draw_users(settings), about=about)


def main(argv: list[str]) -> int:
    return generator_main(argv, ScenarioSettings,
                          lambda settings: f"wrote {generate(settings)} ({settings.users} users, seed {settings.seed})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
