"""Declarative description of the input workbooks.

Each parameter (a row of a `parameters` sheet) and each table column is one
`Field`: its name, unit, meaning, kind and allowed range. Loading, validation,
the scenario generator and the README all read these tables, so adding a
parameter is one entry here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    unit: str
    description: str
    kind: str = "real"  # "real", "integer" or "id" (text or whole number, unique)
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be strictly above `low`
    high_open: bool = False  # True: the value must be strictly below `high`
    default: float | None = None  # what the scenario generator writes

    def expected(self) -> str:
        """What a valid value looks like, in words."""
        if self.kind == "id":
            return "a non-empty user id (text or whole number)"
        noun = "a whole number" if self.kind == "integer" else "a finite number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        text = f"{noun} {' and '.join(bounds)}" if bounds else noun
        return f"{text} ({self.unit})" if self.unit not in ("", "-") else text

    def problem(self, value: object) -> str | None:
        """None when `value` is valid, else the expectation it breaks."""
        if value is None:
            return self.expected()
        if self.kind == "id":
            ok = isinstance(value, str) or (isinstance(value, (int, float)) and float(value).is_integer())
            return None if ok and not isinstance(value, bool) else self.expected()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.expected()
        number = float(value)
        if not math.isfinite(number):
            return self.expected()
        if self.kind == "integer" and not number.is_integer():
            return self.expected()
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return self.expected()
        if self.high is not None and (number > self.high or (self.high_open and number == self.high)):
            return self.expected()
        return None


# --- FedsLLM (spec: ../shared/spec/fedsllm.md) -------------------------------

FEDSLLM_PARAMETERS: tuple[Field, ...] = (
    Field("L", "-", "smoothness constant of the local losses", low=0, low_open=True, default=3.2035),
    Field("gamma", "-", "strong-convexity constant of the local losses", low=0, low_open=True, default=2.9767),
    Field("xi", "-", "Lemma 1 constant, 0 < xi <= gamma/L", low=0, low_open=True, default=0.1),
    Field("delta", "-", "local gradient step, 0 < delta < 2/L", low=0, low_open=True, default=0.1),
    Field("eps0", "-", "target global accuracy", low=0, high=1, low_open=True, high_open=True, default=1e-3),
    Field("smashed_bits", "bit", "smashed data per client per local iteration (s)", low=0, low_open=True, default=281e3),
    Field("model_upload_bits", "bit", "client sub-network upload per round (s_c)", low=0, low_open=True, default=28.1e3),
    Field("bandwidth_main_hz", "Hz", "total bandwidth to the main server (B_s)", low=0, low_open=True, default=20e6),
    Field("bandwidth_fed_hz", "Hz", "total bandwidth to the fed server (B_c)", low=0, low_open=True, default=20e6),
    Field("noise_psd_dbm_per_hz", "dBm/Hz", "noise power spectral density N0 on both links", low=-250, high=0, default=-174),
    Field("server_cpu_max_hz", "Hz", "main-server CPU frequency f_s^max", low=0, low_open=True, default=20e9),
    Field("client_share_min", "-", "smallest client share of the model A_min", low=0, high=1, default=0.1),
    Field("client_share_max", "-", "largest client share of the model A_max", low=0, high=1, default=0.9),
    Field("eta_step", "-", "step of the local-accuracy grid", low=0, high=0.5, low_open=True, default=0.01),
)

FEDSLLM_USER_COLUMNS: tuple[Field, ...] = (
    Field("user", "-", "user id", kind="id"),
    Field("distance_m", "m", "distance to the base station (record only)", low=0, low_open=True),
    Field("shadowing_db", "dB", "log-normal shadowing drawn for this user (record only)"),
    Field("gain_main_db", "dB", "channel gain to the main server g_s", low=-300, high=0, high_open=True),
    Field("gain_fed_db", "dB", "channel gain to the fed server g_c", low=-300, high=0, high_open=True),
    Field("samples", "-", "local data samples D_k", kind="integer", low=1),
    Field("cycles_per_sample", "cycles", "CPU cycles per sample for the whole model C_k", low=0, low_open=True),
    Field("cpu_max_hz", "Hz", "client CPU frequency f_k^max", low=0, low_open=True),
    Field("power_main_max_dbm", "dBm", "maximum transmit power to the main server", low=-100, high=60),
    Field("power_fed_max_dbm", "dBm", "maximum transmit power to the fed server", low=-100, high=60),
)
