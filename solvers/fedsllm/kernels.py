"""Compiled kernels of the batched structured engine (solvers/fedsllm/batched.py): Problem (17) at one eta for
many scenarios at once, every user's closed forms fused into one loop.

The mathematics is solvers/fedsllm/structured.py's, line for line (its module docstring derives it): per user
the SNR terms h(z), ln q(z), Q(z), dh/d ln z, the 2x2 Newton solve of (E1, E2) for given (R, mu), the
fed link's stationary SNR of the Lagrangian bound; per scenario the damped Newton search on (ln(R -
floor), ln mu) with backtracking, the scaled feasible point (upper bound) and the Lagrangian lower bound.
What differs is only how it runs: the users of all scenarios sit in one array, scenario s owning
users offsets[s]:offsets[s+1], and each scenario's budgets and round time are sums and maxima over its
own segment, taken in the same pass that solves its users. Each user stops at its own convergence (the
vectorised path iterates every user until the slowest one of its scenario converges; the extra steps
move a converged user by less than the tolerance), and each scenario keeps its own convergence test,
bounds and status, so a scenario that fails leaves the others as they were.

Tolerances arrive as arguments (`limits`, built by solvers.fedsllm.batched from solvers.fedsllm.structured's
constants), never as globals of another module: numba's on-disk cache (cache=True, so that Dask workers
load the machine code instead of compiling it) only notices changes to this file.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Index of each limit in the `limits` array (solvers.fedsllm.batched.kernel_limits fills it).
SMALL_SNR, STEP_LIMIT, USER_TOL, USER_ITERS, OUTER_ITERS, OUTER_TOL, BACKTRACKS = range(7)
OPTIMAL, GAP_NOT_REACHED, NO_CONVERGENCE = 0, 1, 2  # status codes (solvers.fedsllm.batched.STATUS names them)


@njit(cache=True, error_model="numpy")
def _snr(log_z, small_snr):
    """z, h(z), ln q(z), Q(z) = d ln q / d ln z and dh/d ln z = q/z (structured.snr_terms, one link):
    q = z^2 D / ln(1+z)^2 with D = ln(1+z) - z/(1+z), written with three transcendental calls."""
    z = math.exp(log_z)
    one_plus_z = 1.0 + z
    log1p_z = math.log(one_plus_z) if z >= 1.0 else math.log1p(z)  # 1 + z is exact enough from z = 1
    inverse = 1.0 / one_plus_z
    if z < small_snr:  # D cancels: its series over z^2
        d_over_z2 = 0.5 + z * (-2 / 3 + z * (3 / 4 + z * (-4 / 5 + z * (5 / 6 + z * (-6 / 7)))))
    else:
        d_over_z2 = (log1p_z - z * inverse) / (z * z)
    h = z / log1p_z
    log_q = 2.0 * log_z + math.log(d_over_z2 * h * h)
    slope = 2.0 + inverse * inverse / d_over_z2 - 2.0 * h * inverse
    return z, h, log_q, slope, z * d_over_z2 * h * h


QUADRATIC = 1e-2  # a Newton step below sqrt(QUADRATIC * tolerance) ends a user's solve (see _user_solve)


@njit(cache=True, error_model="numpy")
def _user_solve(round_time, log_mu, n, tau, alpha_main, alpha_fed, log_kappa, log_z, log_w, limits):
    """One user's (ln z, ln w) with E1 = E2 = 0 by damped Newton (structured._FixedEta.solve_users).
    Returns ln z, ln w, whether it converged, its Newton steps, the bandwidths c/z on both links' scale
    (z and w themselves) and the implicit derivatives d ln z / d ln R, d ln z / d ln mu, d ln w / d ln R,
    d ln w / d ln mu at the point returned."""
    small, tol, step_limit = limits[SMALL_SNR], limits[USER_TOL], limits[STEP_LIMIT]
    iteration_limit = int(limits[USER_ITERS])
    converged = False
    steps = 0
    while True:
        z, h_main, q_main, slope_main, dh_main = _snr(log_z, small)
        w, h_fed, q_fed, slope_fed, dh_fed = _snr(log_w, small)
        d_main = n * alpha_main * dh_main / round_time
        d_fed = alpha_fed * dh_fed / round_time
        det = -slope_main * d_fed - slope_fed * d_main
        if steps == iteration_limit:
            break
        e1 = q_fed - q_main - log_mu - log_kappa
        e2 = (tau + alpha_fed * h_fed + n * alpha_main * h_main) / round_time - 1.0
        e1_scale = abs(q_fed) + abs(q_main) + abs(log_mu) + abs(log_kappa) + 1.0
        if abs(e1) / e1_scale < tol and abs(e2) < tol:
            converged = True
            break
        step_z = (-d_fed * e1 + slope_fed * e2) / det
        step_w = (d_main * e1 + slope_main * e2) / det
        largest = max(abs(step_z), abs(step_w))
        scale = min(1.0, step_limit / max(largest, 1e-300))
        log_z += scale * step_z
        log_w += scale * step_w
        steps += 1
        if largest * largest < QUADRATIC * tol:
            # Newton converges quadratically: after this step the residuals are about the step squared,
            # far below the tolerance, so they are not evaluated again; z and w move to first order and
            # the derivatives stay those of the last point (they only steer the budget search).
            z, w = z * (1.0 + step_z), w * (1.0 + step_w)
            converged = True
            break
        if not largest >= 1e-15:  # no step left (or not a number): this user does not converge
            iteration_limit = steps  # the terms at the last point, then stop
    # [d ln z; d ln w] = J^-1 [d ln mu; dR / R] (structured._FixedEta.sensitivities)
    return (log_z, log_w, converged, steps, z, w, -slope_fed / det, d_fed / det, -slope_main / det,
            -d_main / det)


@njit(cache=True, error_model="numpy")
def _evaluate(lo, hi, round_time, log_mu, n, work, kappa_shift, data, source, target, change_log_r,
              change_log_mu, limits):
    """Every user of one scenario solved at (R, mu), starting from `source`'s point moved to first order
    by the change of (ln R, ln mu) from it (none: the source's derivatives are not read). Buffers hold
    per user ln z, ln w and their derivatives in ln R and ln mu. Returns whether all users converged,
    the most steps a user took, the bandwidth used on both links and the sums of b * d ln z / d(ln R,
    ln mu) that the budget Jacobian needs (one pass over the users)."""
    c_main, c_fed, alpha_main, alpha_fed, cycles, coef, _, log_kappa_base = data
    from_z, from_w, from_zr, from_zm, from_wr, from_wm = source
    to_z, to_w, to_zr, to_zm, to_wr, to_wm = target
    all_ok = True
    most_steps = 0
    main_hz = fed_hz = main_dr = main_dmu = fed_dr = fed_dmu = 0.0
    predict = change_log_r != 0.0 or change_log_mu != 0.0
    for k in range(lo, hi):
        start_z, start_w = from_z[k], from_w[k]
        if predict:
            start_z += from_zr[k] * change_log_r + from_zm[k] * change_log_mu
            start_w += from_wr[k] * change_log_r + from_wm[k] * change_log_mu
        log_z, log_w, ok, steps, z, w, dz_dr, dz_dmu, dw_dr, dw_dmu = _user_solve(
            round_time, log_mu, n, cycles[k] * work * coef[k], alpha_main[k], alpha_fed[k],
            kappa_shift + log_kappa_base[k], start_z, start_w, limits)
        to_z[k], to_w[k], to_zr[k], to_zm[k], to_wr[k], to_wm[k] = log_z, log_w, dz_dr, dz_dmu, dw_dr, dw_dmu
        all_ok = all_ok and ok
        most_steps = max(most_steps, steps)
        b_main = c_main[k] / z
        b_fed = c_fed[k] / w
        main_hz += b_main
        fed_hz += b_fed
        main_dr += b_main * dz_dr
        main_dmu += b_main * dz_dmu
        fed_dr += b_fed * dw_dr
        fed_dmu += b_fed * dw_dmu
    return all_ok, most_steps, main_hz, fed_hz, main_dr, main_dmu, fed_dr, fed_dmu


@njit(cache=True, error_model="numpy")
def _cold_start(lo, hi, n, work, kappa_shift, data, budget_main, budget_fed, to_z, to_w, limits):
    """The equal split (structured._FixedEta.cold_state): SNRs at B/K, R its largest user delay, ln mu
    the users' median E1."""
    c_main, c_fed, alpha_main, alpha_fed, cycles, coef, _, log_kappa_base = data
    count = hi - lo
    round_time = -math.inf
    e1 = np.empty(count)
    for k in range(lo, hi):
        to_z[k] = math.log(c_main[k] * count / budget_main)
        to_w[k] = math.log(c_fed[k] * count / budget_fed)
        _, h_main, q_main, _, _ = _snr(to_z[k], limits[SMALL_SNR])
        _, h_fed, q_fed, _, _ = _snr(to_w[k], limits[SMALL_SNR])
        tau = cycles[k] * work * coef[k]
        round_time = max(round_time, tau + alpha_fed[k] * h_fed + n * alpha_main[k] * h_main)
        e1[k - lo] = q_fed - q_main - (kappa_shift + log_kappa_base[k])
    return round_time, np.median(e1)


FIRST_ORDER = 1e-9  # changes of ln z below this are taken to first order in the bounds (error ~1e-18)


@njit(cache=True, error_model="numpy")
def _fed_minimiser(target_log_q, log_w, limits):
    """ln w with ln q(w) = target by Newton on ln q (structured.snr_for_log_q), and h(w)."""
    for _ in range(int(limits[USER_ITERS])):
        _, _, log_q, slope, _ = _snr(log_w, limits[SMALL_SNR])
        step = min(max((target_log_q - log_q) / slope, -limits[STEP_LIMIT]), limits[STEP_LIMIT])
        log_w += step
        if not abs(step) / (1.0 + abs(log_w)) >= 1e-15:
            break
    return log_w, _snr(log_w, limits[SMALL_SNR])[1]


@njit(cache=True, error_model="numpy")
def _bounds(lo, hi, log_mu, n, work, kappa_shift, data, budget_main, budget_fed, log_z, log_w, main_total,
            fed_total, limits, details):
    """The upper bound (the allocation scaled into both budgets: its largest user delay per round) and
    the Lagrangian lower bound on R*, with the bound's slope in the client share and its multipliers
    (structured._FixedEta.upper_bound and lower_bound), in one pass: the scaling and the fed link's
    minimiser are a step of 1e-13 or less from the converged point, taken to first order there (exactly
    otherwise). `details` (6 rows over all users, or none) receives per user b_s, b_c, t_s, t_c of the
    feasible point, nu and the fed SNR minimising the bound."""
    c_main, c_fed, alpha_main, alpha_fed, cycles, coef, share_coef, log_kappa_base = data
    small = limits[SMALL_SNR]
    log_over_main = math.log(max(1.0, main_total / budget_main) * (1 + 4e-16))
    log_over_fed = math.log(max(1.0, fed_total / budget_fed) * (1 + 4e-16))
    keep = details.shape[1] > 0
    log_n = math.log(n)
    upper = shift = -math.inf
    weight_total = weighted_delay = fed_best_hz = share_weighted = 0.0
    for k in range(lo, hi):
        tau = cycles[k] * work * coef[k]
        z, h_main, q_main, _, dh_main = _snr(log_z[k], small)
        w, h_fed, q_fed, slope_fed, dh_fed = _snr(log_w[k], small)
        if log_over_main < FIRST_ORDER:
            h_up_main = h_main + dh_main * log_over_main
        else:
            h_up_main = _snr(log_z[k] + log_over_main, small)[1]
        if log_over_fed < FIRST_ORDER:
            h_up_fed = h_fed + dh_fed * log_over_fed
        else:
            h_up_fed = _snr(log_w[k] + log_over_fed, small)[1]
        delay = tau + alpha_fed[k] * h_up_fed + n * alpha_main[k] * h_up_main
        upper = max(upper, delay) if math.isfinite(delay) else math.nan  # nan stays: max() would drop it
        # Weights x_k = nu_k / lambda_s from the main link's stationarity, q(z_k) = c_s / (x_k n alpha_s),
        # summed relative to the largest so far (rescaled when it grows).
        log_x = math.log(c_main[k]) - log_n - math.log(alpha_main[k]) - q_main
        if log_x > shift:
            rescale = math.exp(shift - log_x)
            weight_total, weighted_delay, share_weighted = (weight_total * rescale, weighted_delay * rescale,
                                                            share_weighted * rescale)
            shift = log_x
        x = math.exp(log_x - shift)
        # The fed link's minimiser of the bound: q(w) = mu kappa_k q(z_k).
        target = log_mu + kappa_shift + log_kappa_base[k] + q_main
        step = (target - q_fed) / slope_fed
        if abs(step) < FIRST_ORDER:
            best_w, h_best = log_w[k] + step, h_fed + dh_fed * step
        else:
            best_w, h_best = _fed_minimiser(target, log_w[k], limits)
        weight_total += x
        weighted_delay += x * (tau + alpha_fed[k] * h_best + n * alpha_main[k] * h_main)
        fed_best_hz += c_fed[k] * math.exp(-best_w)
        share_weighted += x * (cycles[k] * work * share_coef[k])
        if keep:
            details[0, k] = c_main[k] / z * math.exp(-log_over_main)
            details[1, k] = c_fed[k] / w * math.exp(-log_over_fed)
            details[2, k] = alpha_main[k] * h_up_main
            details[3, k] = alpha_fed[k] * h_up_fed
            details[4, k] = log_x
            details[5, k] = best_w
    if keep:
        for k in range(lo, hi):
            details[4, k] = math.exp(details[4, k] - shift) / weight_total
    lambda_main = math.exp(-shift) / weight_total
    lambda_fed = math.exp(log_mu) * lambda_main
    lower = (weighted_delay / weight_total - lambda_main * (budget_main - main_total)
             - lambda_fed * (budget_fed - fed_best_hz))
    return upper, lower, share_weighted / weight_total, lambda_main, lambda_fed


# Per-scenario values the batch reads (columns of `scenarios`) and writes (columns of `results`).
A, V, SMASHED, UPLOAD, BUDGET_MAIN, BUDGET_FED = range(6)
T, LOWER, STATUS, ITERATIONS, SWEEPS, SHARE_SLOPE, LAMBDA_MAIN, LAMBDA_FED = range(8)
ROUND_TIME, LOG_MU, ROUND_FLOOR = range(3)  # columns of `state`, with the users' ln z, ln w


@njit(cache=True, error_model="numpy")
def _solve_scenario(s, lo, hi, eta, warm, gap, scenarios, data, state, users, spare, limits, results, details):
    """Problem (17) at `eta` for scenario s (structured.solve_structured): from its state (warm) or the
    equal split. `users` holds the users' ln z, ln w (the state) and their derivatives; `spare` is a
    second such buffer for trial points. The final point is left in `users` and state[s], its bounds in
    results[s]."""
    work = math.log2(1.0 / eta)
    n = scenarios[s, V] * work
    kappa_shift = math.log(n * scenarios[s, SMASHED] / scenarios[s, UPLOAD])
    c_main, c_fed, alpha_main, alpha_fed, cycles, coef, _, _ = data
    floor = -math.inf  # each user needs more than this per round even with unlimited bandwidth (h >= 1)
    for k in range(lo, hi):
        floor = max(floor, cycles[k] * work * coef[k] + n * alpha_main[k] + alpha_fed[k])
    budget_main, budget_fed = scenarios[s, BUDGET_MAIN], scenarios[s, BUDGET_FED]
    if warm:  # a neighbouring eta's point, R moved by the change of the round floor
        round_time = floor + max(state[s, ROUND_TIME] - state[s, ROUND_FLOOR], 1e-12 * floor)
        log_mu = state[s, LOG_MU]
    else:
        round_time, log_mu = _cold_start(lo, hi, n, work, kappa_shift, data, budget_main, budget_fed,
                                         users[0], users[1], limits)
    rho = math.log(round_time - floor)  # ln(R - floor) keeps R above the floor
    current = _evaluate(lo, hi, round_time, log_mu, n, work, kappa_shift, data, users, spare, 0.0, 0.0, limits)
    at, to = spare, users  # `at`: the accepted point's buffer
    accepted_in_spare = True
    sweeps = current[1] + 1
    iterations = 0
    for iterations in range(1, int(limits[OUTER_ITERS]) + 1):
        round_time = floor + math.exp(rho)
        ok, _, main_hz, fed_hz, main_dr, main_dmu, fed_dr, fed_dmu = current
        residual_main, residual_fed = math.log(main_hz / budget_main), math.log(fed_hz / budget_fed)
        norm = max(abs(residual_main), abs(residual_fed))
        if ok and norm < limits[OUTER_TOL]:
            break
        dr_drho = (round_time - floor) / round_time
        j00, j01 = -main_dr * dr_drho / main_hz, -main_dmu / main_hz
        j10, j11 = -fed_dr * dr_drho / fed_hz, -fed_dmu / fed_hz
        det = j00 * j11 - j01 * j10
        step_rho = (-residual_main * j11 + residual_fed * j01) / det
        step_mu = (-residual_fed * j00 + residual_main * j10) / det
        shrink = min(1.0, 2.0 / max(max(abs(step_rho), abs(step_mu)), 1e-300))
        step_rho, step_mu = step_rho * shrink, step_mu * shrink
        accepted = False
        for _ in range(int(limits[BACKTRACKS])):  # halve the step until the budget residuals shrink
            trial_round = floor + math.exp(rho + step_rho)
            trial = _evaluate(lo, hi, trial_round, log_mu + step_mu, n, work, kappa_shift, data, at, to,
                              math.log(trial_round / round_time), step_mu, limits)
            sweeps += trial[1] + 1
            if trial[0] and max(abs(math.log(trial[2] / budget_main)), abs(math.log(trial[3] / budget_fed))) < norm:
                accepted = True
                break
            step_rho, step_mu = 0.5 * step_rho, 0.5 * step_mu
        if not accepted:
            break  # no progress left in floating point: the bounds say how good the point is
        rho, log_mu = rho + step_rho, log_mu + step_mu
        current = trial
        at, to = to, at
        accepted_in_spare = not accepted_in_spare
    if accepted_in_spare:  # the accepted point becomes the state
        users[0][lo:hi] = spare[0][lo:hi]
        users[1][lo:hi] = spare[1][lo:hi]
    round_time = floor + math.exp(rho)
    upper_round, lower_round, share, lambda_main, lambda_fed = _bounds(
        lo, hi, log_mu, n, work, kappa_shift, data, budget_main, budget_fed, users[0], users[1], current[2],
        current[3], limits, details)
    rounds = scenarios[s, A] / (1.0 - eta)
    upper, lower = rounds * upper_round, rounds * lower_round
    # Proven only with both bounds finite (a user's data that is not a number makes them nan).
    if math.isfinite(upper) and math.isfinite(lower) and upper - lower <= gap * upper:
        status = OPTIMAL
    else:
        status = GAP_NOT_REACHED if current[0] else NO_CONVERGENCE
    state[s, ROUND_TIME], state[s, LOG_MU], state[s, ROUND_FLOOR] = round_time, log_mu, floor
    results[s, T], results[s, LOWER], results[s, STATUS] = upper, lower, status
    results[s, ITERATIONS], results[s, SWEEPS] = iterations, sweeps
    results[s, SHARE_SLOPE] = rounds * share
    results[s, LAMBDA_MAIN], results[s, LAMBDA_FED] = lambda_main, lambda_fed


@njit(cache=True, error_model="numpy")
def solve_batch(offsets, active, etas, warm, retry_cold, gap, scenarios, data, state, users, spare, limits,
                results, details):
    """Problem (17) for every scenario s with active[s], at etas[s]: warm from its state where warm[s],
    else cold; with `retry_cold` a warm start that does not reach the gap is retried cold (as the eta
    searches do). Sweeps and iterations count both attempts."""
    for s in range(len(active)):
        if not active[s]:
            continue
        lo, hi = offsets[s], offsets[s + 1]
        from_state = warm[s]  # one variable for both attempts: one compiled _solve_scenario
        sweeps = iterations = 0.0
        for _ in range(2):
            _solve_scenario(s, lo, hi, etas[s], from_state, gap, scenarios, data, state, users, spare, limits,
                            results, details)
            sweeps += results[s, SWEEPS]
            iterations += results[s, ITERATIONS]
            if not (retry_cold and from_state and results[s, STATUS] != OPTIMAL):
                break
            from_state = False
        results[s, SWEEPS], results[s, ITERATIONS] = sweeps, iterations
