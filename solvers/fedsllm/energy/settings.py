"""The configuration keys of FedsLLM's energy model: `objective`, `energy.*` and `pareto.*`.

`EnergyKeys` is a base of `solvers.config.FedsllmConfig`, so its keys are FedsLLM's (Hydra composes the
dataclass with its bases); `energy_problems` range-checks them like every other setting, before any work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from data.fedsllm.inputs import LONGEST_DELAY_S


def _setting(default: Any = None, help: str = "", factory: Any = None) -> Any:
    """A key with its --help line (the metadata solvers.config.setting writes)."""
    metadata = {"help": help, "internal": False}
    return field(default_factory=factory, metadata=metadata) if factory else field(default=default, metadata=metadata)


class Objective(Enum):
    delay = "delay"  # Problem (17): the least training delay (the paper)
    energy = "energy"  # Problem (E): the least energy of a training under a delay limit T_max


MAX_FRONT_POINTS = 200


@dataclass
class EnergyConfig:
    max_delay_s: Optional[float] = _setting(None, "objective=energy: the delay limit T_max (s); null: "
                                                  "max_delay_factor x T*")
    max_delay_factor: float = _setting(1.2, "objective=energy: T_max = this x the least delay T* (>= 1), "
                                            "unless max_delay_s is set")
    certify_eta: bool = _setting(True, "bound E* over every feasible eta by branch and bound on eta intervals "
                                       "(a relaxation per interval); false: the grid and Brent only")
    eta_tol: float = _setting(1e-6, "certify_eta: relative gap between the best E and the smallest lower bound "
                                    "at which the branch and bound stops")


@dataclass
class ParetoConfig:
    max_factor: float = _setting(6.0, "study=pareto: the front runs from T* to this x T*")
    points: int = _setting(11, "study=pareto: delay limits on the front, spaced evenly from T* (both ends included)")


@dataclass
class EnergyKeys:
    objective: Objective = _setting(Objective.delay, "delay (Problem (17), the paper) or energy (Problem (E): "
                                                     "the least energy under the delay limit energy.*)")
    energy: EnergyConfig = _setting(help="Problem (E): the delay limit", factory=EnergyConfig)
    pareto: ParetoConfig = _setting(help="study=pareto: the delay limits of the front", factory=ParetoConfig)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def energy_problems(settings) -> list[str]:
    """The energy keys of a FedsllmConfig, each with what is expected."""
    energy, pareto = settings.energy, settings.pareto
    problems = []
    if energy.max_delay_s is not None and not (_finite(energy.max_delay_s) and 0 < energy.max_delay_s
                                               <= LONGEST_DELAY_S):
        problems.append(f"energy.max_delay_s={energy.max_delay_s}: expected a number of seconds > 0 and <= "
                        f"{LONGEST_DELAY_S:g}, or null")
    if not (_finite(energy.max_delay_factor) and 1 <= energy.max_delay_factor <= 1e6):
        problems.append(f"energy.max_delay_factor={energy.max_delay_factor}: expected a number >= 1 and <= 1e6 "
                        f"(T_max = factor x T*; below 1 no allocation meets the limit)")
    if not (_finite(energy.eta_tol) and 1e-9 <= energy.eta_tol < 1):
        problems.append(f"energy.eta_tol={energy.eta_tol}: expected a number in [1e-9, 1)")
    if not (_finite(pareto.max_factor) and 1 < pareto.max_factor <= 1e6):
        problems.append(f"pareto.max_factor={pareto.max_factor}: expected a number > 1 and <= 1e6")
    if not 2 <= pareto.points <= MAX_FRONT_POINTS:
        problems.append(f"pareto.points={pareto.points}: expected a whole number from 2 to {MAX_FRONT_POINTS}")
    study = getattr(settings.study, "value", settings.study)
    if settings.objective is Objective.energy and study not in ("optimum", "pareto"):
        problems.append(f"objective=energy with study={study}: expected study=optimum (Problem (E)) or "
                        f"study=pareto (the front); {study} minimises the delay")
    return problems
