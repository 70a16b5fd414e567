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
import math
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from data.schema import (
    CARD_PARAMETERS, FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Field, card_sweep_names, fedsllm_sweep_names, sweep_field)
from solvers.fedsllm.settings import (
    CERTIFY_MAX_USERS, DEFAULT_GAP, GLOBAL_TOLERANCE, IPOPT_MAX_USERS, MULTISTART_MAX_USERS, STUDY_TOLERANCE, Engine,
    EngineSettings)
from solvers.runtime.ipopt import DEFAULT_OPTIONS


class ConfigError(Exception):
    """A bad command-line setting; the message names it and what is allowed."""


def setting(default: Any = MISSING, help: str = "", factory: Any = MISSING, internal: bool = False) -> Any:
    """A configuration field with its one-line help (shown by --help); `internal` ones are set by fedsplit
    itself, not on the command line."""
    metadata = {"help": help, "internal": internal}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class Study(Enum):
    optimum = "optimum"  # the optimum with its certificate, Problem (16) and the baselines
    power_sweep = "power_sweep"  # Fig. 2: the four strategies over the maximum power
    monte_carlo = "monte_carlo"  # drops x sweep x strategies on Dask, means with confidence intervals


class CardStudy(Enum):
    decisions = "decisions"  # CARD's decisions, cross-checks and benchmarks for the workbook's devices
    monte_carlo = "monte_carlo"  # drops of distances and fading x sweep x methods on Dask


class ServerClock(Enum):
    per_device = "per_device"  # the paper: every device-round has its own server clock
    per_round = "per_round"  # one clock per round, shared by the round's devices (one GPU, one clock)


class Minlp(Enum):
    scip = "scip"  # SCIP 10 (PySCIPOpt): the whole horizon, proven optimal
    mindtpy = "mindtpy"  # MindtPy's outer approximation (HiGHS, Ipopt): slow, a second opinion


class ChannelState(Enum):
    Good = "Good"
    Normal = "Normal"
    Poor = "Poor"


@dataclass
class SolverConfig:
    # Defaults are Ipopt's DEFAULT_OPTIONS (solvers/runtime/ipopt.py, which says why each is chosen).
    tol: float = setting(DEFAULT_OPTIONS["tol"], "Ipopt's relative convergence tolerance")
    max_iter: int = setting(DEFAULT_OPTIONS["max_iter"], "Ipopt's iteration limit per solve")
    mumps_pivot_order: int = setting(DEFAULT_OPTIONS["mumps_pivot_order"],
                                     "MUMPS ordering (0 = AMD; Debian's SCOTCH ordering crashes on large models)")
    bound_relax_factor: float = setting(DEFAULT_OPTIONS["bound_relax_factor"],
                                        "Ipopt's bound relaxation (0: constraints hold exactly)")
    print_level: int = setting(DEFAULT_OPTIONS["print_level"], "Ipopt's log level, 0 = quiet .. 12")
    options: dict[str, Any] = setting(factory=dict, help="any other Ipopt option: +solver.options.NAME=VALUE")

    def ipopt_options(self) -> dict[str, Any]:
        return {"tol": self.tol, "max_iter": self.max_iter, "mumps_pivot_order": self.mumps_pivot_order,
                "bound_relax_factor": self.bound_relax_factor, "print_level": self.print_level, **self.options}


@dataclass
class FedsllmSolverConfig(SolverConfig):
    engine: Engine = setting(Engine.auto, "what solves (17) at each eta: auto (ipopt up to ipopt_max_users users, "
                                          "structured above), ipopt, or structured (certified bounds)")
    gap: float = setting(DEFAULT_GAP, "structured engine: relative gap between its upper and lower bound")
    ipopt_max_users: int = setting(IPOPT_MAX_USERS, "engine=auto uses Ipopt up to this many users")
    certify_max_users: int = setting(CERTIFY_MAX_USERS, "structured engine: Ipopt re-solves eta* for the "
                                                        "Lemma 3/KKT certificate up to this many users")

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(self.engine, self.gap, self.ipopt_max_users, self.certify_max_users)


@dataclass
class EtaConfig:
    step: Optional[float] = setting(None, "step of the eta grid; null: the workbook's eta_step")
    low: Optional[float] = setting(None, "first eta of the grid; null: step")
    high: Optional[float] = setting(None, "last eta of the grid; null: 1 - step")
    refine: bool = setting(True, "refine eta between the best grid point's neighbours (Brent)")
    refine_tol: float = setting(1e-6, "absolute tolerance on eta of the refinement")


@dataclass
class GlobalEtaConfig:
    enabled: bool = setting(True, "certify the optimum over every eta in (0, 1) by branch and bound "
                                  "(structured engine's bounds; about 140 solves on the shipped workbook)")
    tol: float = setting(GLOBAL_TOLERANCE, "relative gap between the best T and the smallest lower bound at "
                                           "which the branch and bound stops")
    problem16_tol: float = setting(1e-4, "the same for Problem (16) with A searched (only when some client is "
                                         "at least as fast as the server; its bounds are first-order in eta)")


@dataclass
class PowerSweepConfig:
    powers_dbm: list[float] = setting(factory=lambda: [float(p) for p in range(0, 21, 2)],
                                      help="maximum powers of the Fig. 2 study (dBm)")


@dataclass
class SweepConfig:
    name: Optional[str] = setting(None, "the swept quantity: FedsLLM power_dbm, users or a numeric parameter "
                                        "(bandwidth_main_hz, ...); CARD w or a numeric parameter; null: none")
    values: list[float] = setting(factory=list, help="its values, e.g. [0,2,4]")


@dataclass
class DaskConfig:
    scheduler: Optional[str] = setting(None, "tcp://HOST:PORT of a running Dask scheduler; null: a local "
                                             "cluster of process workers, closed at the end")
    workers: Optional[int] = setting(None, "local cluster: worker processes (one thread each); null: one per core")


class EtaSearch(Enum):
    search = "search"  # the paper's search: a coarse grid and Brent, each point proven by its duality gap
    certified = "certified"  # the optimum over (0, 1) certified by branch and bound (about 2.5x the solves)


@dataclass
class MonteCarloConfig:
    eta_search: EtaSearch = setting(EtaSearch.search, "Proposed per drop: search (grid step 0.1 + Brent, "
                                                      "structured engine) or certified (over (0, 1) by branch and bound)")
    tol: float = setting(STUDY_TOLERANCE, "eta_search=certified: relative gap of each drop's certified optimum over eta")
    solve_limit: int = setting(5000, "structured solves allowed per drop's global search; beyond it the run "
                                     "is counted as failed")


@dataclass
class FedsllmConfig:
    model_name: str = setting("fedsllm", "the model (set by model=fedsllm)", internal=True)
    study: Study = setting(Study.optimum, "optimum (the default run) or power_sweep (Fig. 2)")
    data: Optional[str] = setting(None, "input workbook, relative to where you run; null: data/fedsllm.xlsx")
    out: Optional[str] = setting(None, "report folder, relative to where you run; null: results/fedsllm-<study>-<time>")
    progress: bool = setting(True, "progress bars on stderr")
    baseline_eta: float = setting(0.1, "the fixed eta of the FE and BA baselines, in (0, 1)")
    problem16: bool = setting(True, "also answer Problem (16): cross-checked against (17), or its certified optimum")
    problem16_multistart_max_users: int = setting(MULTISTART_MAX_USERS, "(16) by Ipopt from 4 starts up to this many users")
    solver: FedsllmSolverConfig = setting(factory=FedsllmSolverConfig, help="Ipopt and the engine of the eta search")
    eta: EtaConfig = setting(factory=EtaConfig, help="the eta search")
    power_sweep: PowerSweepConfig = setting(factory=PowerSweepConfig, help="the power study")
    global_eta: GlobalEtaConfig = setting(factory=GlobalEtaConfig, help="the certified optimum over (0, 1)")
    drops: int = setting(100, "monte_carlo: random drops (users redrawn from seed + drop)")
    seed: int = setting(1, "monte_carlo: the first drop's seed")
    users: Optional[int] = setting(None, "monte_carlo: users K per drop; null: the workbook's number of users")
    sweep: SweepConfig = setting(factory=SweepConfig, help="monte_carlo: the swept quantity")
    dask: DaskConfig = setting(factory=DaskConfig, help="monte_carlo: where the tasks run")
    monte_carlo: MonteCarloConfig = setting(factory=MonteCarloConfig, help="monte_carlo: per-drop solves")

    def report_label(self) -> str:
        return f"fedsllm-{self.study.value}"


@dataclass
class CrossCheckConfig:
    rounds: str = setting("all", "rounds whose device-rounds are cross-checked (P3 by Ipopt, enumeration, P1 by "
                                 "the MINLP solver): all, or the first N rounds")
    minlp: Minlp = setting(Minlp.scip, "the MINLP solver of P1: scip or mindtpy")
    time_limit: float = setting(600.0, "time limit of each SCIP solve (s); reaching it stops the run (exit 3) "
                                       "with the bounds reached")

    def round_count(self) -> int | None:
        """The first N rounds, or None for all (after `card_problems` accepted the value)."""
        return None if str(self.rounds).strip().lower() == "all" else int(self.rounds)


@dataclass
class CardConfig:
    model_name: str = setting("card", "the model (set by model=card)", internal=True)
    study: CardStudy = setting(CardStudy.decisions, "decisions (the default run) or monte_carlo")
    data: Optional[str] = setting(None, "input workbook, relative to where you run; null: data/card.xlsx")
    out: Optional[str] = setting(None, "report folder, relative to where you run; null: results/card-<time>")
    progress: bool = setting(True, "progress bars on stderr")
    channel_state: Optional[ChannelState] = setting(None, "Good, Normal or Poor; null: the workbook's")
    w: Optional[float] = setting(None, "weight of delay against energy, in [0, 1]; null: the workbook's")
    rounds: Optional[int] = setting(None, "training rounds N; null: the workbook's")
    server_clock: ServerClock = setting(ServerClock.per_device, "per_device (the paper: a clock per device-round) "
                                                                "or per_round (one clock per round, by SCIP)")
    solver: SolverConfig = setting(factory=SolverConfig, help="Ipopt")
    crosscheck: CrossCheckConfig = setting(factory=CrossCheckConfig, help="the cross-checks")
    drops: int = setting(100, "monte_carlo: random drops (distances and fading redrawn from seed + drop)")
    seed: int = setting(1, "monte_carlo: the first drop's seed")
    sweep: SweepConfig = setting(factory=SweepConfig, help="monte_carlo: the swept quantity (w: the Pareto curve)")
    dask: DaskConfig = setting(factory=DaskConfig, help="monte_carlo: where the tasks run")

    def report_label(self) -> str:
        return "card" if self.study is CardStudy.decisions else f"card-{self.study.value}"


MODEL_CONFIGS = {"fedsllm": FedsllmConfig, "card": CardConfig}
PRIMARY_CONFIG = {"defaults": [{"model": "fedsllm"}, "_self_"]}


def register_configs() -> None:
    store = ConfigStore.instance()
    store.store(name="config", node=PRIMARY_CONFIG)
    for name, node in MODEL_CONFIGS.items():
        store.store(group="model", name=name, node=node, package="_global_")


# --- What the keys are ---------------------------------------------------------------------

@dataclass(frozen=True)
class KeyHelp:
    key: str  # dotted path, e.g. "eta.step"
    default: Any
    help: str


def key_help(config_class: type, prefix: str = "") -> list[KeyHelp]:
    """Every leaf key of a configuration dataclass, with its default and help, in declaration order."""
    keys = []
    instance = config_class()
    for item in fields(config_class):
        if item.metadata.get("internal"):
            continue
        value = getattr(instance, item.name)
        path = f"{prefix}{item.name}"
        if is_dataclass(value):
            keys += key_help(type(value), f"{path}.")
        else:
            keys.append(KeyHelp(path, value.value if isinstance(value, Enum) else value,
                                item.metadata.get("help", "")))
    return keys


def known_keys(model: str) -> list[str]:
    return [k.key for k in key_help(MODEL_CONFIGS[model])]


def nearest_key(key: str, model: str) -> str | None:
    """The known key closest to a mistyped one, if any is close."""
    candidates = known_keys(model) + ["model"]
    matches = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not matches:  # a right last word under a wrong or missing group: eta_step -> eta.step
        last_word = re.split(r"[._]", key)[-1]
        matches = [c for c in candidates if c.rsplit(".", 1)[-1] == last_word][:1]
    return matches[0] if matches else None


# --- Ranges: every setting like the workbook value it replaces -----------------------------

def _field(fields_: tuple[Field, ...], name: str) -> Field:
    return next(f for f in fields_ if f.name == name)


ETA_STEP_FIELD = _field(FEDSLLM_PARAMETERS, "eta_step")
POWER_FIELD = _field(FEDSLLM_USER_COLUMNS, "power_main_max_dbm")
CARD_OVERRIDE_FIELDS = {name: _field(CARD_PARAMETERS, name) for name in ("w", "rounds")}
IPOPT_PRINT_LEVELS = range(0, 13)
MUMPS_ORDERINGS = range(0, 8)


def _number_problems(checks: list[tuple[str, object, bool, str]]) -> list[str]:
    return [f"{key}={value}: expected {expected}" for key, value, ok, expected in checks if not ok]


def solver_problems(solver: SolverConfig) -> list[str]:
    return _number_problems([
        ("solver.tol", solver.tol, solver.tol > 0, "a number > 0"),
        ("solver.max_iter", solver.max_iter, solver.max_iter >= 1, "a whole number >= 1"),
        ("solver.mumps_pivot_order", solver.mumps_pivot_order, solver.mumps_pivot_order in MUMPS_ORDERINGS,
         "a whole number from 0 to 7"),
        ("solver.bound_relax_factor", solver.bound_relax_factor, solver.bound_relax_factor >= 0, "a number >= 0"),
        ("solver.print_level", solver.print_level, solver.print_level in IPOPT_PRINT_LEVELS,
         "a whole number from 0 to 12"),
    ])


SCHEDULER_ADDRESS = re.compile(r"(tcp|tls|inproc|ucx)://[^\s/:]+(:[0-9]{1,5})?/?")
MAX_DROPS = 1_000_000
MAX_USERS = 10_000_000


def study_problems(settings, model: str) -> list[str]:
    """drops, seed, sweep and dask, checked like everything else before any work."""
    problems = _number_problems([
        ("drops", settings.drops, 1 <= settings.drops <= MAX_DROPS, f"a whole number from 1 to {MAX_DROPS:,}"),
        ("seed", settings.seed, 0 <= settings.seed <= 2**32 - 1, "a whole number from 0 to 2^32 - 1"),
    ])
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
        for value in sweep.values:
            if sweep.name == "power_dbm":
                problem = POWER_FIELD.problem(value)
            elif sweep.name == "users":
                problem = None if float(value).is_integer() and 1 <= value <= MAX_USERS else \
                    f"a whole number from 1 to {MAX_USERS:,}"
            else:
                problem = sweep_field(model, sweep.name).problem(value)
            if problem:
                problems.append(f"sweep.values: {value:g}: expected {problem} (as {sweep.name})")
    dask = settings.dask
    if dask.scheduler is not None and not SCHEDULER_ADDRESS.fullmatch(str(dask.scheduler)):
        problems.append(f"dask.scheduler={dask.scheduler}: expected an address like tcp://HOST:PORT")
    if dask.workers is not None and not 1 <= dask.workers <= 4096:
        problems.append(f"dask.workers={dask.workers}: expected a whole number from 1 to 4096, or null")
    if model == "fedsllm":
        mc = settings.monte_carlo
        problems += _number_problems([
            ("users", settings.users, settings.users is None or 1 <= settings.users <= MAX_USERS,
             f"a whole number from 1 to {MAX_USERS:,}, or null"),
            ("monte_carlo.tol", mc.tol, 1e-12 <= mc.tol < 1, "a number in [1e-12, 1)"),
            ("monte_carlo.solve_limit", mc.solve_limit, mc.solve_limit >= 1, "a whole number >= 1"),
        ])
    return problems


def _open_unit(value: float | None) -> bool:
    return value is None or 0 < value < 1


def fedsllm_problems(settings: FedsllmConfig) -> list[str]:
    eta = settings.eta
    problems = _number_problems([
        ("baseline_eta", settings.baseline_eta, 0 < settings.baseline_eta < 1, "a number in (0, 1)"),
        ("eta.low", eta.low, _open_unit(eta.low), "a number in (0, 1), or null"),
        ("eta.high", eta.high, _open_unit(eta.high), "a number in (0, 1), or null"),
        ("eta.refine_tol", eta.refine_tol, 0 < eta.refine_tol < 1, "a number in (0, 1)"),
    ])
    if eta.step is not None and ETA_STEP_FIELD.problem(eta.step):
        problems.append(f"eta.step={eta.step}: expected {ETA_STEP_FIELD.problem(eta.step)} (as the workbook's "
                        f"eta_step)")
    powers = settings.power_sweep.powers_dbm
    if not powers:
        problems.append("power_sweep.powers_dbm=[]: expected at least one power")
    problems += [f"power_sweep.powers_dbm: {power}: expected {POWER_FIELD.problem(power)} (as the workbook's "
                 f"power_main_max_dbm)" for power in powers if POWER_FIELD.problem(power)]
    solver = settings.solver
    problems += _number_problems([
        ("solver.gap", solver.gap, 1e-14 <= solver.gap < 1, "a number in [1e-14, 1) (bounds exact to about 1e-15)"),
        ("solver.ipopt_max_users", solver.ipopt_max_users, solver.ipopt_max_users >= 0, "a whole number >= 0"),
        ("solver.certify_max_users", solver.certify_max_users, solver.certify_max_users >= 0, "a whole number >= 0"),
        ("problem16_multistart_max_users", settings.problem16_multistart_max_users,
         settings.problem16_multistart_max_users >= 0, "a whole number >= 0"),
        ("global_eta.tol", settings.global_eta.tol, 1e-12 <= settings.global_eta.tol < 1, "a number in [1e-12, 1)"),
        ("global_eta.problem16_tol", settings.global_eta.problem16_tol, 1e-12 <= settings.global_eta.problem16_tol < 1,
         "a number in [1e-12, 1)"),
    ])
    return problems + study_problems(settings, "fedsllm") + solver_problems(settings.solver)


def card_problems(settings: CardConfig) -> list[str]:
    problems = []
    for name, schema_field in CARD_OVERRIDE_FIELDS.items():
        value = getattr(settings, name)
        if value is not None and schema_field.problem(value):
            problems.append(f"{name}={value}: expected {schema_field.problem(value)} (as the workbook's {name})")
    rounds = str(settings.crosscheck.rounds).strip()
    if rounds.lower() != "all":
        whole = re.fullmatch(r"[0-9]+", rounds) is not None
        if not whole or int(rounds) < 1 or (settings.rounds is not None and int(rounds) > settings.rounds):
            upper = f" and <= rounds={settings.rounds}" if settings.rounds is not None else ""
            problems.append(f"crosscheck.rounds={rounds}: expected all, or a whole number >= 1{upper}")
    limit = settings.crosscheck.time_limit
    if not (limit > 0 and math.isfinite(limit)):
        problems.append(f"crosscheck.time_limit={limit}: expected a number of seconds > 0")
    return problems + study_problems(settings, "card") + solver_problems(settings.solver)


def check_settings(settings: FedsllmConfig | CardConfig) -> None:
    """A ConfigError listing every out-of-range setting, if there is any."""
    problems = fedsllm_problems(settings) if isinstance(settings, FedsllmConfig) else card_problems(settings)
    if problems:
        raise ConfigError(f"{len(problems)} bad setting{'s' if len(problems) != 1 else ''}:\n"
                          + "\n".join(f"  - {p}" for p in problems))
