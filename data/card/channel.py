"""CARD's wireless links: SNR per device and round, CQI efficiency, rates.

PL(d) = PL0 + 10 alpha log10(d / 1 m) with alpha = 2 / 4 / 6 for the Good /
Normal / Poor channel state; Rayleigh block fading |h|^2 ~ Exp(1), one draw per
device and round, shared by up- and down-link (a reciprocal block-fading
channel) and by the three channel states (the same seed gives the same draws);
SNR = P + 10 log10 |h|^2 - PL - N0 - 10 log10 B. The rate is B times the
efficiency of the highest CQI whose threshold is at or below the SNR; below CQI 1
the link is out of range and has no rate (NaN), never a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.card.inputs import CardInputs

PATH_LOSS_EXPONENT = {"Good": 2.0, "Normal": 4.0, "Poor": 6.0}


@dataclass(frozen=True)
class Links:
    state: str
    snr_up_db: np.ndarray  # (devices, rounds)
    snr_down_db: np.ndarray
    rate_up_bps: np.ndarray  # NaN where out of range
    rate_down_bps: np.ndarray

    @property
    def in_range(self) -> np.ndarray:
        return np.isfinite(self.rate_up_bps) & np.isfinite(self.rate_down_bps)


def fading_power(inputs: CardInputs) -> np.ndarray:
    """|h|^2 per device and round, Exp(1), from the workbook's seed."""
    rng = np.random.default_rng(inputs.parameter("seed"))
    return rng.exponential(1.0, size=(len(inputs.device_ids), inputs.parameter("rounds")))


def log_distance_path_loss_db(distance_m, exponent: float, reference_db: float) -> np.ndarray:
    """PL(d) = PL0 + 10 alpha log10(d / 1 m) (dB)."""
    return reference_db + 10.0 * exponent * np.log10(np.asarray(distance_m, dtype=float))


def cqi_efficiency(snr_db, thresholds_db: np.ndarray, efficiencies: np.ndarray) -> np.ndarray:
    """Efficiency of the highest CQI with threshold <= SNR; NaN below the first threshold."""
    index = np.searchsorted(thresholds_db, np.asarray(snr_db, dtype=float), side="right") - 1
    return np.where(index >= 0, efficiencies[np.maximum(index, 0)], np.nan)


def eq9_rate_bps(bandwidth_hz: float, snr_db, thresholds_db: np.ndarray, efficiencies: np.ndarray) -> np.ndarray:
    """The rates R^D, R^S of (9): R = B y(SNR), y the CQI efficiency (bit/s; NaN out of range)."""
    return bandwidth_hz * cqi_efficiency(snr_db, thresholds_db, efficiencies)


def links(inputs: CardInputs, state: str | None = None) -> Links:
    p = inputs.parameters
    state = state or p["channel_state"]
    bandwidth = p["bandwidth_hz"]
    noise_dbm = p["noise_psd_dbm_per_hz"] + 10.0 * np.log10(bandwidth)
    loss = log_distance_path_loss_db(inputs.devices["distance_m"], PATH_LOSS_EXPONENT[state], p["path_loss_ref_db"])[:, None]
    fading_db = 10.0 * np.log10(fading_power(inputs))
    snr_up = p["device_tx_dbm"] + fading_db - loss - noise_dbm
    snr_down = p["ap_tx_dbm"] + fading_db - loss - noise_dbm
    thresholds, efficiencies = inputs.cqi["snr_threshold_db"], inputs.cqi["efficiency"]
    return Links(state, snr_up, snr_down,
                 eq9_rate_bps(bandwidth, snr_up, thresholds, efficiencies),
                 eq9_rate_bps(bandwidth, snr_down, thresholds, efficiencies))
