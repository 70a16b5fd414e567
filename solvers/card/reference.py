"""The per-round variant by an independent exact method (a global search over the round's one clock),
the reference its SCIP solves are checked against.
"""

from __future__ import annotations

import math

import numpy as np

from data.card.costs import PairCosts
from solvers.card.algorithm import best_cut_at


def _cost_coefficients(pair: PairCosts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cut, (a, b, g) with U_c(f) = a_c + b_c / f + g_c f^2 (f in GHz), read off three evaluations of U:
    U is linear in (1, 1/f, f^2), so three clocks determine it exactly."""
    probe = np.array([1.0, 2.0, 3.0])
    basis = np.stack([np.ones(3), 1.0 / probe, probe**2], axis=1)
    values = np.array([[float(pair.cost(int(c), f)) for f in probe] for c in pair.cuts])
    a, b, g = np.linalg.solve(basis, values.T)
    return a, b, g


def _crossings_ghz(coefficients, low: float, high: float) -> list[float]:
    """Clocks in (low, high) where two cuts' costs cross: U_c - U_c' = 0 is, times f, the cubic
    (g_c - g_c') f^3 + (a_c - a_c') f + (b_c - b_c') = 0."""
    a, b, g = coefficients
    points = []
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            for root in np.roots([g[i] - g[j], 0.0, a[i] - a[j], b[i] - b[j]]):
                if abs(root.imag) < 1e-12 and low < root.real < high:
                    points.append(float(root.real))
    return points


def per_round_optimum(pairs: list[PairCosts]) -> tuple[float, float, list[int]]:
    """One round's optimum with one shared clock: (clock in GHz, sum of U, cut of each pair).

    For a fixed clock the cuts separate, so the round's cost is Phi(f) = sum over devices of the lower
    envelope min_c U_c(f), each U_c convex in f. Between consecutive crossing points of any device's costs
    every device keeps one cut, so Phi is there a convex A + B/f + G f^2, minimised in closed form at
    f = cbrt(B / (2 G)), clamped to the piece. The best piece holds the global optimum."""
    low = max(pair.clock_min_ghz for pair in pairs)
    high = min(pair.clock_max_ghz for pair in pairs)
    coefficients = [_cost_coefficients(pair) for pair in pairs]
    breaks = sorted({low, high, *(x for c in coefficients for x in _crossings_ghz(c, low, high))})
    best_value, best_clock = math.inf, low
    for left, right in zip(breaks[:-1], breaks[1:]):
        middle = 0.5 * (left + right)
        cuts = [int(np.argmin(a + b / middle + g * middle**2)) for a, b, g in coefficients]
        b_sum = sum(b[c] for (_, b, _), c in zip(coefficients, cuts))
        g_sum = sum(g[c] for (_, _, g), c in zip(coefficients, cuts))
        stationary = (b_sum / (2 * g_sum)) ** (1 / 3) if g_sum > 0 else right
        for clock in (left, right, min(max(stationary, left), right)):
            value = sum(float(pair.cost(c, clock)) for pair, c in zip(pairs, cuts))
            if value < best_value:
                best_value, best_clock = value, clock
    return best_clock, best_value, [best_cut_at(pair, best_clock) for pair in pairs]
