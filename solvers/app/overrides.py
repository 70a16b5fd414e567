"""The command line's overrides: parsed in Hydra's syntax, checked, expanded into one list per job and
composed into a config.

Every problem is found before anything runs and listed at once: syntax, unknown keys (with the nearest
one), values of the wrong type or outside their choices, out-of-range values and keys that the chosen
study does not read, over every job of a multirun. A value that cannot be used is left out of the range
checks (its key keeps its default there), so it hides nothing else. Once anything is wrong, the workbook
is validated too and its problems are listed with the settings', so a user fixes both in one round.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.errors import itemised
from data.issues import InputError, InputIssue
from data.schema import SHIPPED_WORKBOOKS, is_shipped_workbook
from data.workbook import read_tables
from reports.files.run_files import default_out
from solvers.app.config import MODEL_CONFIGS, ConfigError, register_configs, settings_problems
from solvers.app.help import KeyHelp, choice_hint, expected_value, key_help, known_keys, nearest, shown


SOLVER_OPTIONS_PREFIX = "solver.options."
HYDRA_PATH_KEYS = {"hydra.run.dir": "out", "hydra.sweep.dir": "sweep_dir"}


def workbook_of(model: str):
    """The model's shipped workbook and the validation of its workbooks (the pipelines' read and validate
    steps), imported when a workbook is checked: they load numpy; --help and --cfg job read no workbook."""
    if model == "card":
        from data.card.inputs import DEFAULT_CARD_WORKBOOK, card_inputs  # noqa: PLC0415

        return DEFAULT_CARD_WORKBOOK, card_inputs
    from data.fedsllm.inputs import DEFAULT_WORKBOOK, fedsllm_inputs  # noqa: PLC0415

    return DEFAULT_WORKBOOK, fedsllm_inputs


class SettingsProblems(ConfigError):
    """Everything wrong with a command's settings (`problems`, in words) and, when any is, with its workbook
    (`issues`, each located by file, sheet, row and column)."""

    def __init__(self, problems: list[str], issues: list[InputIssue] | tuple = ()):
        self.settings_problems = list(problems)
        self.issues = list(issues)
        where = "in the settings and the workbook" if self.issues else "in the settings"
        every = [*self.settings_problems, *map(str, self.issues)]
        super().__init__(itemised("problem", where, every), every)
        self.after = (f"Nothing was written. Fix {'them' if self.issues else 'the settings'} and run again "
                      f"(--help lists every key).")


@dataclass
class Overrides:
    """The checked overrides: the model, what Hydra composes, and the sweep folder of a multirun."""

    model: str
    hydra: list[Override]
    sweep_dir: str | None = None


def parse_overrides(texts: list[str]) -> tuple[list[Override], list[str]]:
    """The overrides Hydra's grammar reads, and a problem for each text it does not."""
    parser = OverridesParser.create()
    parsed, problems = [], []
    for text in texts:
        try:
            parsed += parser.parse_overrides([text])
        except OverrideParseException as error:
            reason = str(error).splitlines()[0]
            problems.append(f"{text}: not a key=value override ({reason})")
    return parsed, problems


def unknown_key_problem(text: str, key: str, candidates: list[str], owner: str) -> str:
    """`owner` (`model=card`, `generate`) has no such key: the nearest one, and where the keys are listed."""
    guess = nearest(key.lstrip("+~"), candidates)
    hint = f" (did you mean {guess}?)" if guess else ""
    return f"{text}: {owner} has no key '{key.lstrip('+~')}'{hint}; --help lists the keys"


def check_overrides(texts: list[str], multirun: bool) -> tuple[Overrides, list[str]]:
    """Every override against the chosen model's keys: the ones kept, and a problem for each other one (with
    the nearest key)."""
    parsed, problems = parse_overrides(texts)
    models = [o for o in parsed if o.key_or_group == "model"]
    model = str(models[-1].value()) if models and not models[-1].is_sweep_override() else "fedsllm"
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
            problems.append(unknown_key_problem(text, key, [*known_keys(model), "model"], f"model={model}"))
            continue
        if override.type is not OverrideType.CHANGE:
            problems.append(f"{text}: {key} exists; write {key}=VALUE")
            continue
        kept.append(override)
    return Overrides(model, kept, sweep_dir), problems


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


def with_report_folder(cfg: DictConfig) -> DictConfig:
    """`cfg` with its report folder filled in when `out` was left null."""
    if cfg.out is None:
        cfg.out = str(default_out(OmegaConf.to_object(cfg).report_label()))
    return cfg


# --- Values ---------------------------------------------------------------------------------

def override_values(override: Override) -> list[object]:
    """The value an override sets, or each value of a sweep (a,b,c or range(...))."""
    if not override.is_sweep_override():
        return [override.value()]
    try:
        return list(override.sweep_iterator())
    except HydraException as error:
        raise ConfigError(f"{override.input_line}: {error}") from None


def value_problems(config_class: type, keys: dict[str, KeyHelp], overrides: list[Override]
                   ) -> tuple[list[Override], list[str]]:
    """The overrides whose every value fits its key's type (as OmegaConf will take it), and a problem for each
    other one; keys not in `keys` (+solver.options.NAME) pass as they are."""
    schema = OmegaConf.structured(config_class)
    OmegaConf.set_readonly(schema, False)  # a frozen dataclass gives a read-only config
    fitting, problems = [], []
    for override in overrides:
        key = override.key_or_group
        known = keys.get(key)
        if known is None:
            fitting.append(override)
            continue
        try:
            bad = [v for v in override_values(override) if not _fits(schema, key, v)]
        except ConfigError as error:
            problems.append(str(error))
            continue
        if bad:
            text = override.input_line if not override.is_sweep_override() else f"{key}={shown(bad[0])}"
            problems.append(f"{text}: expected {expected_value(known.type)}{choice_hint(known.type, bad[0])}")
        else:
            fitting.append(override)
    return fitting, problems


def _fits(schema: DictConfig, key: str, value: object) -> bool:
    try:
        OmegaConf.update(schema, key, value, merge=True)
    except (OmegaConfBaseException, ValueError, TypeError):
        return False
    return True


# --- Keys of another study ------------------------------------------------------------------

def study_problems(job: list[str], study: str, keys: dict[str, KeyHelp]) -> list[str]:
    """A key that only another study reads would be ignored silently: one line per study it belongs to."""
    foreign: dict[str, list[str]] = {}
    for text in job:
        known = keys.get(text.split("=", 1)[0].lstrip("+~"))
        if known is not None and not known.read_by(study):
            foreign.setdefault(known.studies, []).append(text)
    return [f"{' '.join(texts)}: only study={' or study='.join(wanted)} reads "
            f"{'these keys' if len(texts) > 1 else 'this key'} (this run is study={study}); add study={wanted[0]}"
            + (f" (or {', '.join(wanted[1:])})" if len(wanted) > 1 else "") for wanted, texts in foreign.items()]


# --- The workbook beside them ----------------------------------------------------------------

def workbook_issues(model: str, data: str | None) -> list[InputIssue]:
    """The workbook's problems, as the run's validate step would report them (none if it is valid)."""
    path = Path(data) if data else SHIPPED_WORKBOOKS[model]
    if is_shipped_workbook(model, path):  # valid as shipped: no need to load numpy and openpyxl to say so
        return []
    _, validate = workbook_of(model)
    try:
        validate(path, read_tables(path))
    except InputError as error:
        return error.issues
    return []


def scenario_issues(scenario) -> list[InputIssue]:
    """An in-memory scenario's problems (data.scenario.Scenario), as its run's validate step would report them."""
    try:
        workbook_of(scenario.model)[1](Path(scenario.resolved()), scenario.read())
    except InputError as error:
        return error.issues
    return []


# --- The whole check ---------------------------------------------------------------------------

@dataclass
class CheckedRun:
    """A command line whose every setting is valid: its overrides, one list per job, and each job's config
    (report folder filled in)."""

    overrides: Overrides
    jobs: list[list[str]]
    configs: list[DictConfig]


def _key_of(problem: str) -> str:
    """The key a range problem starts with: `w=1.5: ...`, `sweep.values: 7: ...`."""
    return problem.split("=", 1)[0].split(":", 1)[0].strip()


def read_range_problems(settings, keys: dict[str, KeyHelp]) -> list[str]:
    """The settings' range problems (settings_problems), but not of a key this study does not read: such a
    key is refused as such (study_problems), its range does not matter."""
    study = settings.study.value
    return [p for p in settings_problems(settings) if keys.get(_key_of(p), KeyHelp("", None, "")).read_by(study)]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def check_run(texts: list[str], multirun: bool = False) -> CheckedRun:
    """Every override of a `run` command line checked, or one SettingsProblems listing everything wrong with
    them (over every job) and with the workbook."""
    overrides, problems = check_overrides(texts, multirun)
    keys = {k.key: k for k in key_help(MODEL_CONFIGS[overrides.model])}
    fitting, wrong_values = value_problems(MODEL_CONFIGS[overrides.model], keys, overrides.hydra)
    problems += wrong_values
    overrides = Overrides(overrides.model, fitting, overrides.sweep_dir)
    jobs, configs = [], []
    try:
        jobs = job_overrides(overrides)
    except ConfigError as error:
        problems.append(str(error))
    for job in jobs:
        try:
            cfg = compose_config(job)
        except ConfigError as error:  # what the checks above did not foresee, in Hydra's words
            problems.append(str(error))
            continue
        settings = OmegaConf.to_object(cfg)
        problems += read_range_problems(settings, keys)
        problems += study_problems(job[1:], settings.study.value, keys)
        configs.append(cfg)
    if problems:
        data = configs[0].data if configs else None
        raise SettingsProblems(_unique(problems), workbook_issues(overrides.model, data))
    return CheckedRun(overrides, jobs, [with_report_folder(cfg) for cfg in configs])
