"""The configuration keys of FedsLLM's energy model: `objective`, `energy.*` and `pareto.*`.

`EnergyKeys` is a base of `solvers.config.FedsllmConfig`, so its keys are FedsLLM's (Hydra composes the
dataclass with its bases); `energy_problems` range-checks them like every other setting, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from data.schema import LONGEST_DELAY_S, Field, within


def _setting(default: Any = None, help: str = "", factory: Any = None, valid: Field | None = None) -> Any:
    """A key with its --help line and its range (the metadata solvers.app.config.setting writes)."""
    metadata = {"help": help, "internal": False, "valid": valid}
    return field(default_factory=factory, metadata=metadata) if factory else field(default=default, metadata=metadata)


class Objective(Enum):
    delay = "delay"  # Problem (17): the least training delay (the paper)
    energy = "energy"  # Problem (E): the least energy of a training under a delay limit T_max


MAX_FRONT_POINTS = 200


@dataclass
class EnergyConfig:
    max_delay_s: Optional[float] = _setting(None, "objective=energy: the delay limit T_max (s); null: "
                                                  "max_delay_factor x T*",
                                        valid=within(0, LONGEST_DELAY_S, low_open=True, unit="s"))
    max_delay_factor: float = _setting(1.2, "objective=energy: T_max = this x the least delay T* (>= 1), "
                                            "unless max_delay_s is set", valid=within(1, 1e6))
    certify_eta: bool = _setting(True, "bound E* over every feasible eta by branch and bound on eta intervals "
                                       "(a relaxation per interval); false: the grid and Brent only")
    eta_tol: float = _setting(1e-6, "certify_eta: relative gap between the best E and the smallest lower bound "
                                    "at which the branch and bound stops", valid=within(1e-9, 1, high_open=True))


@dataclass
class ParetoConfig:
    max_factor: float = _setting(6.0, "study=pareto: the front runs from T* to this x T*",
                                 valid=within(1, 1e6, low_open=True))
    points: int = _setting(11, "study=pareto: delay limits on the front, spaced evenly from T* (both ends included)",
                           valid=within(2, MAX_FRONT_POINTS, whole=True))


@dataclass
class EnergyKeys:
    objective: Objective = _setting(Objective.delay, "delay (Problem (17), the paper) or energy (Problem (E): "
                                                     "the least energy under the delay limit energy.*; with study=sensitivity "
                                                     "E* is an output beside T*)")
    energy: EnergyConfig = _setting(help="Problem (E): the delay limit", factory=EnergyConfig)
    pareto: ParetoConfig = _setting(help="study=pareto: the delay limits of the front", factory=ParetoConfig)


def energy_problems(settings) -> list[str]:
    """The rule between the energy keys and the study (their ranges are their Fields')."""
    problems = []  # the ranges are the Fields' (solvers.app.config.range_problems); here the rules
    study = getattr(settings.study, "value", settings.study)
    if settings.objective is Objective.energy and study not in ("optimum", "pareto", "sensitivity"):
        problems.append(f"objective=energy with study={study}: expected study=optimum (Problem (E)), "
                        f"study=pareto (the front) or study=sensitivity (E* an output); {study} minimises the delay")
    return problems
