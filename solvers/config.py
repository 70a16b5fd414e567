"""Typed run configurations, registered with Hydra's ConfigStore.

`python -m solvers.run model=fedsllm eta.step=0.02 solver.max_iter=500` selects
the `model` group entry and overrides its keys, in Hydra's override syntax. The
dataclasses below are the defaults and the schema: a mistyped key or value is
reported before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from solvers.ipopt import DEFAULT_OPTIONS


class ConfigError(Exception):
    """A bad command-line setting; the message names it and what is allowed."""


@dataclass
class SolverConfig:
    # Defaults are Ipopt's DEFAULT_OPTIONS (solvers/ipopt.py, which says why each is chosen).
    tol: float = DEFAULT_OPTIONS["tol"]  # Ipopt's relative convergence tolerance
    max_iter: int = DEFAULT_OPTIONS["max_iter"]  # Ipopt's iteration limit per solve
    mumps_pivot_order: int = DEFAULT_OPTIONS["mumps_pivot_order"]  # 0 = AMD
    bound_relax_factor: float = DEFAULT_OPTIONS["bound_relax_factor"]
    print_level: int = DEFAULT_OPTIONS["print_level"]  # 0 = quiet, 5 = Ipopt's full log
    options: dict[str, Any] = field(default_factory=dict)  # any other Ipopt option (+solver.options.NAME=VALUE)

    def ipopt_options(self) -> dict[str, Any]:
        return {"tol": self.tol, "max_iter": self.max_iter, "mumps_pivot_order": self.mumps_pivot_order,
                "bound_relax_factor": self.bound_relax_factor, "print_level": self.print_level, **self.options}


@dataclass
class EtaConfig:
    step: Optional[float] = None  # None: the workbook's eta_step
    low: Optional[float] = None  # None: step
    high: Optional[float] = None  # None: 1 - step
    refine: bool = True  # refine eta between the best grid point's neighbours
    refine_tol: float = 1e-6  # absolute tolerance on eta of the refinement


@dataclass
class PowerSweepConfig:
    powers_dbm: list[float] = field(default_factory=lambda: [float(p) for p in range(0, 21, 2)])


@dataclass
class FedsllmConfig:
    model_name: str = "fedsllm"
    study: str = "optimum"  # "optimum" (the default run) or "power_sweep" (Fig. 2)
    data: Optional[str] = None  # input workbook; None: data/fedsllm.xlsx
    out: Optional[str] = None  # report folder; None: results/fedsllm-<timestamp>
    progress: bool = True  # progress lines on stderr
    baseline_eta: float = 0.1  # the fixed eta of the FE and BA baselines
    problem16: bool = True  # also solve the full Problem (16) from several starts
    solver: SolverConfig = field(default_factory=SolverConfig)
    eta: EtaConfig = field(default_factory=EtaConfig)
    power_sweep: PowerSweepConfig = field(default_factory=PowerSweepConfig)


@dataclass
class CrossCheckConfig:
    rounds: int = 1  # rounds whose pairs CARD is cross-checked on (P3 by Ipopt, enumeration, P1 by MindtPy)


@dataclass
class CardConfig:
    model_name: str = "card"
    data: Optional[str] = None  # input workbook; None: data/card.xlsx
    out: Optional[str] = None  # report folder; None: results/card-<timestamp>
    progress: bool = True
    channel_state: Optional[str] = None  # Good / Normal / Poor; None: the workbook's
    w: Optional[float] = None  # None: the workbook's
    rounds: Optional[int] = None  # None: the workbook's
    solver: SolverConfig = field(default_factory=SolverConfig)
    crosscheck: CrossCheckConfig = field(default_factory=CrossCheckConfig)


PRIMARY_CONFIG = {"defaults": [{"model": "fedsllm"}, "_self_"]}


def register_configs() -> None:
    store = ConfigStore.instance()
    store.store(name="config", node=PRIMARY_CONFIG)
    store.store(group="model", name="fedsllm", node=FedsllmConfig, package="_global_")
    store.store(group="model", name="card", node=CardConfig, package="_global_")
