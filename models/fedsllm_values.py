"""The quantities of a FedsLLM model (Problem (16) or (17)) evaluated at its current values, in numpy.

Evaluating a Pyomo Expression one user at a time costs microseconds each, seconds at K = 20,000 users;
here every per-user quantity is one array operation. The formulas are the model's own (models/fedsllm.py:
(8), Lemma 2, (10), (11), (15)) in its units (MHz, s, Mbit, GHz), so each equals the Expression of the same
name to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

LOG2 = math.log(2.0)


def values_of(component) -> np.ndarray:
    """An indexed Var, Param or Expression's values in the order of its index (the users'); NaN for a
    variable without a value yet."""
    if component.ctype is pyo.Var:
        return np.array([item.value for item in component.values()], dtype=float)
    return np.fromiter((pyo.value(item) for item in component.values()), float, len(component))


def value_of(component) -> float:
    """A scalar Var, Param or Expression's value; NaN for a variable without a value yet."""
    if component.ctype is pyo.Var:
        return math.nan if component.value is None else float(component.value)
    return float(pyo.value(component))


def multipliers_of(model: pyo.ConcreteModel, constraint) -> np.ndarray:
    """Ipopt's multipliers (the model's `dual` suffix) of an indexed constraint's rows, NaN where none."""
    dual = model.dual
    return np.fromiter((dual.get(row, math.nan) for row in constraint.values()), float, len(constraint))


@dataclass(frozen=True)
class DelayModelValues:
    """The model's decisions and data as plain numbers and per-user arrays."""

    users: tuple[str, ...]
    eta: float
    T: float  # s
    a: float
    v: float
    client_share: float  # A
    client_cpu_ghz: np.ndarray
    server_cpu_ghz: float
    compute_work: np.ndarray  # E_k, gigacycles
    smashed_mbit: float
    upload_mbit: float
    power_to_noise_main_mhz: np.ndarray  # g p / N0
    power_to_noise_fed_mhz: np.ndarray
    bandwidth_main_mhz: np.ndarray
    bandwidth_fed_mhz: np.ndarray
    time_main_s: np.ndarray
    time_fed_s: np.ndarray
    bandwidth_main_budget_mhz: float
    bandwidth_fed_budget_mhz: float

    @classmethod
    def read(cls, model: pyo.ConcreteModel) -> "DelayModelValues":
        return cls(tuple(str(k) for k in model.users.ordered_data()), value_of(model.eta), value_of(model.T),
                   value_of(model.a), value_of(model.v), value_of(model.client_share), values_of(model.client_cpu),
                   value_of(model.server_cpu), values_of(model.compute_work), value_of(model.smashed_data),
                   value_of(model.model_upload), values_of(model.power_to_noise_main),
                   values_of(model.power_to_noise_fed), values_of(model.bandwidth_main),
                   values_of(model.bandwidth_fed), values_of(model.time_main), values_of(model.time_fed),
                   value_of(model.bandwidth_main_budget), value_of(model.bandwidth_fed_budget))

    @property
    def rounds(self) -> float:
        """(8) I0 = a / (1 - eta)."""
        return self.a / (1 - self.eta)

    @property
    def local_iterations(self) -> float:
        """Lemma 2: v log2(1/eta)."""
        return self.v * math.log(1 / self.eta) / LOG2

    @property
    def compute_s(self) -> np.ndarray:
        """(10) tau_k = E_k log2(1/eta) (A/f_k + (1-A)/f_s)."""
        return self.compute_work * (math.log(1 / self.eta) / LOG2) * (
            self.client_share / self.client_cpu_ghz + (1 - self.client_share) / self.server_cpu_ghz)

    @property
    def rate_main_mbps(self) -> np.ndarray:
        """(11) b log2(1 + c/b) to the main server."""
        return self.bandwidth_main_mhz * np.log(1 + self.power_to_noise_main_mhz / self.bandwidth_main_mhz) / LOG2

    @property
    def rate_fed_mbps(self) -> np.ndarray:
        """(11) to the fed server."""
        return self.bandwidth_fed_mhz * np.log(1 + self.power_to_noise_fed_mhz / self.bandwidth_fed_mhz) / LOG2

    def delays_s(self, time_main_s: np.ndarray | None = None, time_fed_s: np.ndarray | None = None) -> np.ndarray:
        """(15) T_k = I0 (tau_k + t_c,k + n t_s,k), at the model's upload times or the ones given."""
        time_main_s = self.time_main_s if time_main_s is None else time_main_s
        time_fed_s = self.time_fed_s if time_fed_s is None else time_fed_s
        return self.rounds * (self.compute_s + time_fed_s + self.local_iterations * time_main_s)
