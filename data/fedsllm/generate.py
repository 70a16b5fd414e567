"""Draw a FedsLLM scenario workbook as in the paper's simulation (Section IV).

    ./fedsplit generate users=50 seed=1 area_m=500 out=scenario.xlsx     (solvers/app/script.py)

`out` is relative to the folder the command runs in and its folder must exist;
an existing file is kept unless `overwrite=true`.

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

from dataclasses import dataclass, field, fields
from typing import Optional
from pathlib import Path


import numpy as np

from data.fedsllm.inputs import FedsllmInputs
from data.input_style import style_workbook
from data.schema import FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Field, Kind, field_named
from data.workbook import append_as_data, new_workbook_with_parameters, plain_value, writable_target


def described(default: object, help: str) -> object:
    """A generator setting with its one-line help (`fedsplit generate --help` lists them)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ScenarioSettings:
    users: int = described(50, "users K")
    seed: int = described(1, "seed of the draws (positions, shadowing, samples, cycles)")
    area_m: float = described(500.0, "side of the square the users are drawn in, centred on the base station (m)")
    min_distance_m: float = described(10.0, "no user closer than this to the base station (m)")
    shadowing_std_db: float = described(8.0, "standard deviation of the log-normal shadowing (dB)")
    total_samples: Optional[int] = described(None, "samples shared among the users; null: the paper's 60,021, "
                                                   "scaled with the users above 50")
    cycles_min: float = described(1e4, "C_k is drawn uniform in [cycles_min, cycles_max] (cycles per sample)")
    cycles_max: float = described(3e4, "see cycles_min (cycles per sample)")
    cpu_max_hz: float = described(2e9, "every user's CPU frequency f_k^max (Hz)")
    power_max_dbm: float = described(10.0, "every user's maximum transmit power on both links (dBm)")
    out: str = described("scenario.xlsx", "the workbook to write, relative to where you run; its folder must exist")
    overwrite: bool = described(False, "replace an existing out")


PAPER_TOTAL_SAMPLES, PAPER_USERS = 60021, 50  # BlogFeedback over the paper's 50 users
EXCEL_DATA_ROWS = 1_048_575  # a sheet's rows below its header


# Each setting's range, like the workbook cells it fills.
SCENARIO_FIELDS = {
    "users": Field("users", "-", "users K", Kind.INTEGER, low=1, high=EXCEL_DATA_ROWS),
    "seed": Field("seed", "-", "seed", Kind.INTEGER, low=0, high=2**32 - 1),
    "area_m": Field("area_m", "m", "side of the square", low=0, high=1e7, low_open=True),
    "min_distance_m": Field("min_distance_m", "m", "smallest distance", low=0, high=1e7),
    "shadowing_std_db": Field("shadowing_std_db", "dB", "shadowing standard deviation", low=0, high=50),
    "cycles_min": field_named(FEDSLLM_USER_COLUMNS, "cycles_per_sample"),
    "cycles_max": field_named(FEDSLLM_USER_COLUMNS, "cycles_per_sample"),
    "cpu_max_hz": field_named(FEDSLLM_USER_COLUMNS, "cpu_max_hz"),
    "power_max_dbm": field_named(FEDSLLM_USER_COLUMNS, "power_main_max_dbm"),
}


def field_problems(settings: object, ranges: dict[str, Field]) -> list[str]:
    """`key=value: expected ...` for each setting outside its field's range."""
    values = {name: getattr(settings, name) for name in ranges}
    return [f"{name}={value:g}: expected {ranges[name].problem(value)}" for name, value in values.items()
            if ranges[name].problem(value)]


def scenario_problems(settings: ScenarioSettings) -> list[str]:
    """Every setting that cannot draw a scenario, in words (before anything is drawn)."""
    problems = field_problems(settings, SCENARIO_FIELDS)
    if not problems and settings.min_distance_m >= settings.area_m / 2:
        problems.append(f"min_distance_m={settings.min_distance_m:g}: expected below half of area_m "
                        f"({settings.area_m / 2:g} m)")
    if not problems and settings.cycles_min > settings.cycles_max:
        problems.append(f"cycles_min={settings.cycles_min:g}: expected <= cycles_max={settings.cycles_max:g}")
    if settings.total_samples is not None and not (1 <= settings.users <= settings.total_samples):
        problems.append(f"total_samples={settings.total_samples}: expected a whole number >= users "
                        f"({settings.users}), so that every user draws a sample")
    return problems


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
    about["generator"] = "fedsplit generate"
    return write_fedsllm_workbook(Path(settings.out), draw_users(settings), about=about)
