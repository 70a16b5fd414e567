"""Typed run configurations, registered with Hydra's ConfigStore.

`python -m solvers.run model=fedsllm eta.step=0.02 solver.max_iter=500` selects
the `model` group entry and overrides its keys, in Hydra's override syntax. The
dataclasses below are the defaults and the schema: every key carries a one-line
help (`--help` lists them), choices are Enums (a wrong value lists the allowed
ones), and `check_settings` range-checks every value like the workbook cell it
replaces, before anything runs.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from data.errors import FedsplitError
from data.schema import (
    CARD_PARAMETERS, CHANNEL_STATES, FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Field, card_sweep_names,
    fedsllm_sweep_names, sweep_field, within)
from solvers.fedsllm.settings import (
    CERTIFY_MAX_USERS, DEFAULT_GAP, GLOBAL_TOLERANCE, IPOPT_MAX_USERS, MULTISTART_MAX_USERS, Engine, EngineSettings)
from solvers.fedsllm.energy.settings import EnergyKeys, energy_problems
from solvers.runtime.ipopt import DEFAULT_OPTIONS
from solvers.studies.cluster import local_workers_problem
from solvers.studies.fedsllm import DEFAULT_STUDY_TOLERANCE, StudyEngine
from solvers.studies.sensitivity_points import SensitivityConfig, sensitivity_problems


class ConfigError(FedsplitError):
    """A bad command-line setting; the message names it and what is allowed."""


def setting(default: Any = MISSING, help: str = "", factory: Any = MISSING, internal: bool = False,
            valid: Field | None = None, study: str | tuple[str, ...] | None = None) -> Any:
    """A configuration field with its one-line help (shown by --help) and its range (`valid`, a schema Field:
    one of the workbook's when the setting replaces a cell, else `within(...)`; each item of a list is
    checked); `internal` ones are set by fedsplit itself, not on the command line; `study`: the one study
    or studies that read it (refused with any other)."""
    metadata = {"help": help, "internal": internal, "valid": valid, "study": study}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _schema_field(fields_: tuple[Field, ...], name: str) -> Field:
    return next(f for f in fields_ if f.name == name)


MAX_DROPS = 1_000_000
MAX_USERS = 10_000_000
FRACTION = within(0, 1, low_open=True, high_open=True)  # in (0, 1)
RELATIVE_TOLERANCE = within(1e-12, 1, high_open=True)  # in [1e-12, 1)
POWER_FIELD = _schema_field(FEDSLLM_USER_COLUMNS, "power_main_max_dbm")
DROPS = within(1, MAX_DROPS, whole=True)
USERS = within(1, MAX_USERS, whole=True)
SEED = within(0, 2**32 - 1, whole=True)


class Study(Enum):
    optimum = "optimum"  # the optimum with its certificate, Problem (16) and the baselines
    power_sweep = "power_sweep"  # Fig. 2: the four strategies over the maximum power
    monte_carlo = "monte_carlo"  # drops x sweep x strategies on Dask, means with confidence intervals
    pareto = "pareto"  # the delay-energy front E*(T_max) of Proposed, EB, FE and BA, on Dask
    sensitivity = "sensitivity"  # which factors move T*, eta* and the reduction (Morris or Sobol, on Dask)


class CardStudy(Enum):
    decisions = "decisions"  # CARD's decisions, cross-checks and benchmarks for the workbook's devices
    monte_carlo = "monte_carlo"  # drops of distances and fading x sweep x methods on Dask
    sensitivity = "sensitivity"  # which factors move the delays, energies and reductions (Morris or Sobol)


class ServerClock(Enum):
    per_device = "per_device"  # the paper: every device-round has its own server clock
    per_round = "per_round"  # one clock per round, shared by the round's devices (one GPU, one clock)


class Minlp(Enum):
    scip = "scip"  # SCIP 10 (PySCIPOpt): the whole horizon, proven optimal
    mindtpy = "mindtpy"  # MindtPy's outer approximation (HiGHS, Ipopt): slow, a second opinion


ChannelState = Enum("ChannelState", {state: state for state in CHANNEL_STATES})  # the workbook's choices


@dataclass
class SolverConfig:
    # Defaults are Ipopt's DEFAULT_OPTIONS (solvers/runtime/ipopt.py, which says why each is chosen).
    tol: float = setting(DEFAULT_OPTIONS["tol"], "Ipopt's relative convergence tolerance",
                       valid=within(0, 1, low_open=True, high_open=True))
    max_iter: int = setting(DEFAULT_OPTIONS["max_iter"], "Ipopt's iteration limit per solve", valid=within(1, whole=True))
    mumps_pivot_order: int = setting(DEFAULT_OPTIONS["mumps_pivot_order"],
                                     "MUMPS ordering (0 = AMD; Debian's SCOTCH ordering crashes on large models)",
                                     valid=within(0, 7, whole=True))
    bound_relax_factor: float = setting(DEFAULT_OPTIONS["bound_relax_factor"],
                                        "Ipopt's bound relaxation (0: constraints hold exactly)",
                                        valid=within(0, 1, high_open=True))
    print_level: int = setting(DEFAULT_OPTIONS["print_level"], "Ipopt's log level, 0 = quiet .. 12",
                               valid=within(0, 12, whole=True))
    max_hours: float = setting(24.0, "refuse, before it starts, a run whose solves are estimated to take longer (h)",
                               valid=within(0, low_open=True))
    options: dict[str, Any] = setting(factory=dict, help="any other Ipopt option: +solver.options.NAME=VALUE")

    def ipopt_options(self) -> dict[str, Any]:
        return {"tol": self.tol, "max_iter": self.max_iter, "mumps_pivot_order": self.mumps_pivot_order,
                "bound_relax_factor": self.bound_relax_factor, "print_level": self.print_level, **self.options}


@dataclass
class FedsllmSolverConfig(SolverConfig):
    engine: Engine = setting(Engine.auto, "what solves (17) at each eta: auto (ipopt up to ipopt_max_users users, "
                                          "structured above), ipopt, or structured (certified bounds)")
    gap: float = setting(DEFAULT_GAP, "structured engine: relative gap between its upper and lower bound (its "
                                      "bounds are exact to about 1e-15)", valid=within(1e-14, 1, high_open=True))
    ipopt_max_users: int = setting(IPOPT_MAX_USERS, "engine=auto uses Ipopt up to this many users",
                                   valid=within(0, whole=True))
    certify_max_users: int = setting(CERTIFY_MAX_USERS, "structured engine: Ipopt re-solves eta* for the "
                                                        "Lemma 3/KKT certificate up to this many users",
                                     valid=within(0, whole=True))

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(self.engine, self.gap, self.ipopt_max_users, self.certify_max_users)


@dataclass
class EtaConfig:
    step: Optional[float] = setting(None, "step of the eta grid; null: the workbook's eta_step",
                                    valid=_schema_field(FEDSLLM_PARAMETERS, "eta_step"))
    low: Optional[float] = setting(None, "first eta of the grid; null: step", valid=FRACTION)
    high: Optional[float] = setting(None, "last eta of the grid; null: 1 - step", valid=FRACTION)
    refine: bool = setting(True, "refine eta between the best grid point's neighbours (Brent)")
    refine_tol: float = setting(1e-6, "absolute tolerance on eta of the refinement", valid=FRACTION)


@dataclass
class GlobalEtaConfig:
    enabled: bool = setting(True, "certify the optimum over every eta in (0, 1) by branch and bound "
                                  "(structured engine's bounds; about 140 solves on the shipped workbook)")
    tol: float = setting(GLOBAL_TOLERANCE, "relative gap between the best T and the smallest lower bound at "
                                           "which the branch and bound stops", valid=RELATIVE_TOLERANCE)
    problem16_tol: float = setting(1e-4, "the same for Problem (16) with A searched (only when some client is "
                                         "at least as fast as the server; its bounds are first-order in eta)",
                                   valid=RELATIVE_TOLERANCE)


@dataclass
class PowerSweepConfig:
    powers_dbm: list[float] = setting(factory=lambda: [float(p) for p in range(0, 21, 2)],
                                      help="maximum powers of the Fig. 2 study (dBm)", valid=POWER_FIELD)


@dataclass
class SweepConfig:
    name: Optional[str] = setting(None, "the swept quantity: FedsLLM power_dbm, users or a numeric parameter "
                                        "(bandwidth_main_hz, ...); CARD w or a numeric parameter; null: none")
    values: list[float] = setting(factory=list, help="its values, e.g. [0,2,4]")


@dataclass
class DaskConfig:
    scheduler: Optional[str] = setting(None, "tcp://HOST:PORT of a running Dask scheduler; null: a local "
                                             "cluster of process workers, closed at the end")
    workers: Optional[int] = setting(None, "local cluster: worker processes (one thread each); null: one per core",
                                     valid=within(1, 4096, whole=True))


class EtaMethod(Enum):
    search = "search"  # the paper's search: a coarse grid and Brent, each point proven by its duality gap
    certified = "certified"  # the optimum over (0, 1) certified by branch and bound (about 2.5x the solves)


@dataclass
class MonteCarloConfig:
    eta_search: EtaMethod = setting(EtaMethod.search, "Proposed per drop: search (grid step 0.1 + Brent, "
                                                      "structured engine) or certified (over (0, 1) by branch and bound)")
    tol: float = setting(DEFAULT_STUDY_TOLERANCE, "eta_search=certified: relative gap of each drop's certified "
                                                  "optimum over eta", valid=RELATIVE_TOLERANCE)
    solve_limit: int = setting(5000, "structured solves allowed per drop's eta search; beyond it the run "
                                     "is counted as failed", valid=within(1, whole=True))
    engine: StudyEngine = setting(StudyEngine.batched, "batched (many tasks per compiled pass; eta_search=search "
                                                       "only, certified runs per task) or per_task (the reference)")


@dataclass
class FedsllmConfig(EnergyKeys):  # objective, energy.* and pareto.* (solvers/fedsllm/energy/settings.py)
    model: str = setting("fedsllm", "the model (set by model=fedsllm)", internal=True)
    study: Study = setting(Study.optimum, "optimum (the default run), power_sweep (Fig. 2), monte_carlo, pareto "
                                          "or sensitivity")
    data: Optional[str] = setting(None, "input workbook, relative to where you run; null: data/fedsllm.xlsx")
    out: Optional[str] = setting(None, "report folder, relative to where you run; null: results/fedsllm-<study>-<time>")
    progress: bool = setting(True, "progress bars on stderr")
    baseline_eta: float = setting(0.1, "the fixed eta of the FE and BA baselines, in (0, 1)", valid=FRACTION)
    problem16: bool = setting(True, "also answer Problem (16): cross-checked against (17), or its certified optimum")
    problem16_multistart_max_users: int = setting(MULTISTART_MAX_USERS, "Problem (16) by Ipopt from 4 starts up to "
                                                  "this many users", valid=within(0, whole=True))
    solver: FedsllmSolverConfig = setting(factory=FedsllmSolverConfig, help="Ipopt and the engine of the eta search")
    eta: EtaConfig = setting(factory=EtaConfig, help="the eta search")
    power_sweep: PowerSweepConfig = setting(factory=PowerSweepConfig, help="the power study", study="power_sweep")
    global_eta: GlobalEtaConfig = setting(factory=GlobalEtaConfig, help="the certified optimum over (0, 1)")
    drops: int = setting(100, "random drops (users redrawn from seed + drop)", valid=DROPS, study="monte_carlo")
    seed: int = setting(1, "the first drop's seed (sensitivity: its sample's)", valid=SEED)
    users: Optional[int] = setting(None, "users K per drop; null: the workbook's number of users",
                                   valid=USERS, study="monte_carlo")
    sweep: SweepConfig = setting(factory=SweepConfig, help="the swept quantity", study="monte_carlo")
    dask: DaskConfig = setting(factory=DaskConfig, help="where a study's tasks run")
    monte_carlo: MonteCarloConfig = setting(factory=MonteCarloConfig, help="per-drop (and per-point) solves",
                                            study=("monte_carlo", "sensitivity"))
    sensitivity: SensitivityConfig = setting(factory=SensitivityConfig, help="the factors", study="sensitivity")

    def report_label(self) -> str:
        return f"fedsllm-{self.study.value}"


@dataclass
class CrossCheckConfig:
    rounds: str = setting("all", "rounds whose device-rounds are cross-checked (P3 by Ipopt, enumeration, P1 by "
                                 "the MINLP solver): all, the first N rounds, or 0 (no cross-check)")
    minlp: Minlp = setting(Minlp.scip, "the MINLP solver of P1: SCIP, or MindtPy's outer approximation")
    time_limit: float = setting(600.0, "time limit of each SCIP solve (s); reaching it stops the run (exit 3) "
                                       "with the bounds reached", valid=within(0, low_open=True, unit="s"))

    def round_count(self) -> int | None:
        """The first N rounds (0: none), or None for all (after `card_problems` accepted the value)."""
        return None if str(self.rounds).strip().lower() == "all" else int(self.rounds)


@dataclass
class CardConfig:
    model: str = setting("card", "the model (set by model=card)", internal=True)
    study: CardStudy = setting(CardStudy.decisions, "what to compute: CARD's decisions with their cross-checks, "
                                                    "or a Monte Carlo study on Dask")
    data: Optional[str] = setting(None, "input workbook, relative to where you run; null: data/card.xlsx")
    out: Optional[str] = setting(None, "report folder, relative to where you run; null: results/card-<time>")
    progress: bool = setting(True, "progress bars on stderr")
    channel_state: Optional[ChannelState] = setting(None, f"{', '.join(CHANNEL_STATES[:-1])} or {CHANNEL_STATES[-1]}; "
                                                                  "null: the workbook's channel_state")
    w: Optional[float] = setting(None, "weight of delay against energy, in [0, 1]; null: the workbook's w",
                                 valid=_schema_field(CARD_PARAMETERS, "w"))
    rounds: Optional[int] = setting(None, "training rounds N; null: the workbook's rounds",
                                    valid=_schema_field(CARD_PARAMETERS, "rounds"))
    server_clock: ServerClock = setting(ServerClock.per_device, "per_device (the paper: a clock per device-round) "
                                                                "or per_round (one clock per round, by SCIP)")
    solver: SolverConfig = setting(factory=SolverConfig, help="Ipopt")
    crosscheck: CrossCheckConfig = setting(factory=CrossCheckConfig, help="the cross-checks")
    drops: int = setting(100, "random drops (distances and fading redrawn from seed + drop)",
                         valid=DROPS, study="monte_carlo")
    seed: int = setting(1, "the first drop's seed (sensitivity: its sample's)", valid=SEED)
    sweep: SweepConfig = setting(factory=SweepConfig, help="the swept quantity (w: the Pareto curve)",
                                 study="monte_carlo")
    dask: DaskConfig = setting(factory=DaskConfig, help="where a study's tasks run")
    sensitivity: SensitivityConfig = setting(factory=SensitivityConfig, help="the factors", study="sensitivity")

    def report_label(self) -> str:
        return "card" if self.study is CardStudy.decisions else f"card-{self.study.value}"


MODEL_CONFIGS = {"fedsllm": FedsllmConfig, "card": CardConfig}
PRIMARY_CONFIG = {"defaults": [{"model": "fedsllm"}, "_self_"]}


def register_configs() -> None:
    store = ConfigStore.instance()
    store.store(name="config", node=PRIMARY_CONFIG)
    for name, node in MODEL_CONFIGS.items():
        store.store(group="model", name=name, node=node, package="_global_")


# --- Ranges: every setting like the workbook value it replaces -----------------------------

def _leaves(settings, prefix: str = ""):
    """(dotted key, value, the field's metadata) of every leaf setting."""
    for item in fields(settings):
        value = getattr(settings, item.name)
        if is_dataclass(value):
            yield from _leaves(value, f"{prefix}{item.name}.")
        else:
            yield f"{prefix}{item.name}", value, item.metadata


def range_problems(settings) -> list[str]:
    """Every setting outside the range its Field declares (a list setting: each item); null means unset."""
    problems = []
    for key, value, metadata in _leaves(settings):
        valid = metadata.get("valid")
        if valid is None or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            expected = valid.problem(item)
            if expected:
                shown = f"{key}: {item}" if isinstance(value, list) else f"{key}={item}"
                mirror = f" (as the workbook's {valid.name})" if valid.name else ""
                problems.append(f"{shown}: expected {expected}{mirror}")
    return problems


SCHEDULER_ADDRESS = re.compile(r"(tcp|tls|inproc|ucx)://[^\s/:]+(:[0-9]{1,5})?/?")


def study_problems(settings, model: str) -> list[str]:
    """The sweep (its values checked as the swept quantity) and the scheduler's address."""
    problems = []
    sweep = settings.sweep
    names = fedsllm_sweep_names() if model == "fedsllm" else card_sweep_names()
    if sweep.name is not None and sweep.name not in names:
        near = difflib.get_close_matches(sweep.name, names, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        problems.append(f"sweep.name={sweep.name}: expected one of {', '.join(names)}{hint}")
    elif sweep.name is not None and not sweep.values:
        problems.append(f"sweep.values=[]: expected at least one value of {sweep.name}")
    elif sweep.name is None and sweep.values:
        problems.append("sweep.values given without sweep.name: expected sweep.name=... too")
    elif sweep.name is not None:
        swept = {"power_dbm": POWER_FIELD, "users": USERS}.get(sweep.name) or sweep_field(model, sweep.name)
        problems += [f"sweep.values: {value:g}: expected {swept.problem(value)} (as {sweep.name})"
                     for value in sweep.values if swept.problem(value)]
    scheduler = settings.dask.scheduler
    if scheduler is not None and not SCHEDULER_ADDRESS.fullmatch(str(scheduler)):
        problems.append(f"dask.scheduler={scheduler}: expected an address like tcp://HOST:PORT")
    workers = settings.dask.workers
    if workers is not None and scheduler is None and (problem := local_workers_problem(workers)):
        problems.append(problem)
    return problems


def fedsllm_problems(settings: FedsllmConfig) -> list[str]:
    problems = [] if settings.power_sweep.powers_dbm else ["power_sweep.powers_dbm=[]: expected at least one power"]
    return (problems + study_problems(settings, "fedsllm") + energy_problems(settings)
            + sensitivity_problems(settings, "fedsllm"))


def card_problems(settings: CardConfig) -> list[str]:
    problems = []
    rounds = str(settings.crosscheck.rounds).strip()
    if rounds.lower() != "all":
        whole = re.fullmatch(r"[0-9]+", rounds) is not None
        if not whole or (settings.rounds is not None and int(rounds) > settings.rounds):
            upper = f" and <= rounds={settings.rounds}" if settings.rounds is not None else ""
            problems.append(f"crosscheck.rounds={rounds}: expected all, or a whole number >= 0{upper} (0: no "
                            f"cross-check)")
    return problems + study_problems(settings, "card") + sensitivity_problems(settings, "card")


def settings_problems(settings: FedsllmConfig | CardConfig) -> list[str]:
    """Every out-of-range setting: the Fields' ranges, then the rules between settings."""
    rules = fedsllm_problems if isinstance(settings, FedsllmConfig) else card_problems
    return range_problems(settings) + rules(settings)


def check_settings(settings: FedsllmConfig | CardConfig) -> None:
    """A ConfigError listing every out-of-range setting, if there is any."""
    problems = settings_problems(settings)
    if problems:
        raise ConfigError.listing("bad setting", problems)
