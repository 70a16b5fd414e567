"""FedsLLM input: read the workbook, validate it, and hand out checked values.

Pipeline: `read_tables` (data/workbook.py) -> `fedsllm_inputs`, which runs
`validate_fedsllm` (collects every problem) and builds `FedsllmInputs` only from
a workbook with no problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import math

import numpy as np

from data.issues import Found, InputIssue
from data.schema import FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Kind
from data.validation import (
    CrossRule,
    SheetContext,
    cells_valid,
    check_cross_rules,
    check_parameter_sheet,
    check_row_table,
    normalise_id,
    parameter_cells,
    raise_issues,
    repeated_header_issues,
    valid_parameters,
)
from data.units import parameters_in_schema_units
from data.workbook import Table, read_tables

PARAMETERS_SHEET = "parameters"
USERS_SHEET = "users"
DEFAULT_WORKBOOK = Path(__file__).parents[1] / "fedsllm.xlsx"

FEDSLLM_CROSS_RULES = (
    CrossRule("gamma", ("gamma", "L"), lambda p: p["gamma"] <= p["L"],
              lambda p: f"gamma <= L = {p['L']:g} (a function cannot be more strongly convex than it is smooth)"),
    CrossRule("xi", ("xi", "gamma", "L"), lambda p: p["xi"] <= p["gamma"] / p["L"],
              lambda p: f"xi <= gamma/L = {p['gamma'] / p['L']:.6g} (Lemma 1)"),
    CrossRule("delta", ("delta", "L"), lambda p: p["delta"] < 2 / p["L"],
              lambda p: f"delta < 2/L = {2 / p['L']:.6g} (Lemma 2)"),
    CrossRule("client_share_min", ("client_share_min", "client_share_max"),
              lambda p: p["client_share_min"] <= p["client_share_max"],
              lambda p: f"client_share_min <= client_share_max = {p['client_share_max']:g}"),
)


# The rate b log2(1 + c/b) loses relative precision eps/SNR to rounding in 1 + SNR; at -70 dB that is 2e-9,
# the most the optimum's 1e-9 tolerance allows. A link weaker than this over the whole band carries a few
# bit/s: no deployment plans with it.
SNR_FLOOR_DB = -70.0
LINKS = {"main": ("gain_main_db", "power_main_max_dbm", "bandwidth_main_hz", "main server"),
         "fed": ("gain_fed_db", "power_fed_max_dbm", "bandwidth_fed_hz", "fed server")}


def full_band_snr_db(gain_db: float, power_dbm: float, noise_dbm_per_hz: float, bandwidth_hz: float) -> float:
    """The SNR of a user given the whole band: the lowest its link ever has (dB)."""
    return gain_db + power_dbm - noise_dbm_per_hz - 10.0 * np.log10(bandwidth_hz)


LN2 = math.log(2.0)
# The longest training the model plans for: beyond this Ipopt works with delays of 1e9 s and more,
# far from the numbers near 1 it is scaled for, and no deployment waits that long.
LONGEST_DELAY_S = 1e9  # about 32 years


def lemma_constants(parameters: dict[str, float]) -> tuple[float, float]:
    """(a, v): eq. (8) a = 2L^2/(gamma^2 xi) ln(1/eps0) (Lemma 1), v = 2/((2 - L delta) delta gamma) (Lemma 2)."""
    L, gamma = parameters["L"], parameters["gamma"]
    xi, delta, eps0 = parameters["xi"], parameters["delta"], parameters["eps0"]
    a = 2.0 * L**2 / (gamma**2 * xi) * math.log(1.0 / eps0)
    v = 2.0 / ((2.0 - L * delta) * delta * gamma)
    return a, v


def _user_terms(inputs: "FedsllmInputs") -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """(a, v, and per user: s ln2 / (g p / N0) on the main and the fed link (s), the compute time of one local
    iteration's log2(1/eta) with A_min on the client and the rest on the server (s))."""
    a, v = lemma_constants(inputs.parameters)
    p = inputs.parameters
    main_s = p["smashed_bits"] * LN2 / inputs.power_to_noise_hz("main")
    fed_s = p["model_upload_bits"] * LN2 / inputs.power_to_noise_hz("fed")
    cycles = v * inputs.column("cycles_per_sample") * inputs.column("samples")
    share = p["client_share_min"]
    compute_per_log = cycles * (share / inputs.column("cpu_max_hz") + (1 - share) / p["server_cpu_max_hz"])
    return a, v, main_s, fed_s, compute_per_log


def user_delay_terms(inputs: "FedsllmInputs", eta: float) -> dict[str, np.ndarray]:
    """Per user at `eta`, the parts of the lower bound on its training delay with unlimited bandwidth (s):
    rounds a/(1-eta) times the main link's v log2(1/eta) uploads, the fed link's one, and the compute."""
    a, v, main_s, fed_s, compute_per_log = _user_terms(inputs)
    rounds, logs = a / (1.0 - eta), math.log2(1.0 / eta)
    return {"main": rounds * v * logs * main_s, "fed": rounds * fed_s, "compute": rounds * logs * compute_per_log}


def shortest_delay_s(inputs: "FedsllmInputs", etas: np.ndarray) -> tuple[float, float, int]:
    """A lower bound on T* over `etas`: at each eta, rounds a/(1-eta) times the slowest user's round with
    unlimited bandwidth (t >= s ln2 / (g p / N0)) and its least compute time (A_min on the client, the rest
    on the server). Returns (bound, its eta, the slowest user's index)."""
    a, v, main_s, fed_s, compute_per_log = _user_terms(inputs)
    logs = np.log2(1.0 / etas)[:, None]
    rounds = (a / (1.0 - etas))[:, None]

    def bounds(users: slice) -> np.ndarray:  # etas x users
        return rounds * (v * logs * main_s[users] + fed_s[users] + logs * compute_per_log[users])

    # The users in chunks, so memory stays linear in K (etas x chunk at a time).
    chunk = 4096
    slowest = np.max([bounds(slice(start, start + chunk)).max(axis=1) for start in range(0, len(main_s), chunk)],
                     axis=0)
    best = int(np.argmin(slowest))
    at_best = sum(user_delay_terms(inputs, float(etas[best])).values())
    return float(slowest[best]), float(etas[best]), int(np.argmax(at_best))


def _link_issues(context: SheetContext) -> list[InputIssue]:
    """Each link must reach SNR_FLOOR_DB with the whole band (judged where the cells it uses are valid)."""
    users = context.tables.get(USERS_SHEET)
    parameters = valid_parameters(context, PARAMETERS_SHEET, FEDSLLM_PARAMETERS)
    if users is None or not parameters:
        return []
    issues = []
    for gain_name, power_name, bandwidth_name, server in LINKS.values():
        if not {"noise_psd_dbm_per_hz", bandwidth_name} <= parameters.keys():
            continue
        for row in users.rows:
            if not cells_valid(row, FEDSLLM_USER_COLUMNS, gain_name, power_name):
                continue
            snr = full_band_snr_db(row[gain_name].value, row[power_name].value, parameters["noise_psd_dbm_per_hz"],
                                   parameters[bandwidth_name])
            if snr < SNR_FLOOR_DB:
                cell = row[gain_name]
                issues.append(context.issue(
                    USERS_SHEET, cell.row, cell.column_label, cell.value,
                    f"a link the model can plan with: with the whole band ({parameters[bandwidth_name]:g} Hz) and "
                    f"its maximum power ({row[power_name].value:g} dBm) this user's SNR to the {server} is "
                    f"{snr:.1f} dB; the model supports SNRs from {SNR_FLOOR_DB:g} dB (a raise of "
                    f"{SNR_FLOOR_DB - snr:.1f} dB in gain or power)"))
    return issues


def validate_fedsllm(file: str, tables) -> list[InputIssue]:
    """Every problem of a FedsLLM workbook, in sheet order."""
    context = SheetContext(file, tables)
    issues = check_parameter_sheet(context, PARAMETERS_SHEET, FEDSLLM_PARAMETERS)
    issues += check_cross_rules(context, PARAMETERS_SHEET, FEDSLLM_PARAMETERS, FEDSLLM_CROSS_RULES)
    issues += check_row_table(context, USERS_SHEET, FEDSLLM_USER_COLUMNS, id_column="user")
    issues += _link_issues(context)
    issues += repeated_header_issues(context, (PARAMETERS_SHEET, USERS_SHEET))
    sheet_order = {PARAMETERS_SHEET: 0, USERS_SHEET: 1}
    return sorted(issues, key=lambda issue: (sheet_order.get(issue.sheet, -1), issue.row or 0))


def db_to_linear(db):
    return 10.0 ** (np.asarray(db, dtype=float) / 10.0)


def dbm_to_watt(dbm):
    return 10.0 ** ((np.asarray(dbm, dtype=float) - 30.0) / 10.0)


@dataclass(frozen=True)
class FedsllmInputs:
    """A validated FedsLLM scenario, in the workbook's units (see data/schema.py)."""

    source: str
    parameters: dict[str, float]
    user_ids: tuple[str, ...]
    users: dict[str, np.ndarray] = field(repr=False)  # column name -> one value per user

    @property
    def user_count(self) -> int:
        return len(self.user_ids)

    def parameter(self, name: str) -> float:
        return self.parameters[name]

    def column(self, name: str) -> np.ndarray:
        return self.users[name]

    @property
    def noise_psd_w_per_hz(self) -> float:
        return float(dbm_to_watt(self.parameters["noise_psd_dbm_per_hz"]))

    def gain_to_noise_hz_per_w(self, link: str) -> np.ndarray:
        """g / N0 per user (Hz/W); `link` is "main" (to the main server) or "fed" (to the fed server)."""
        return db_to_linear(self.users[f"gain_{link}_db"]) / self.noise_psd_w_per_hz

    def power_max_w(self, link: str) -> np.ndarray:
        return dbm_to_watt(self.users[f"power_{link}_max_dbm"])

    def power_to_noise_hz(self, link: str) -> np.ndarray:
        """g p_max / N0 per user (Hz): the bandwidth at which the SNR would be 1."""
        return self.gain_to_noise_hz_per_w(link) * self.power_max_w(link)

    def with_power_dbm(self, power_dbm: float) -> "FedsllmInputs":
        """The same scenario with every user's maximum power on both links set to `power_dbm`."""
        users = dict(self.users)
        users["power_main_max_dbm"] = np.full(self.user_count, float(power_dbm))
        users["power_fed_max_dbm"] = np.full(self.user_count, float(power_dbm))
        return replace(self, users=users)


# The inputs that make a user slow, by the part of its delay they drive, and the sign that slows it.
SLOWING_COLUMNS = {"compute": (("samples", 1), ("cycles_per_sample", 1), ("cpu_max_hz", -1)),
                   "main": (("gain_main_db", -1), ("power_main_max_dbm", -1)),
                   "fed": (("gain_fed_db", -1), ("power_fed_max_dbm", -1))}
# The eta search's bounds lose relative precision eps x (slowest user's delay / the median user's) to
# rounding: 2e-10 at 1e6, within the optimum's 1e-9 gap. The shipped workbook with one user's samples at 1e10
# (1.5e6 times the median user's delay) ended without reaching it (exit 3); at 1e9 (1.5e5) it solves.
LONGEST_SPREAD = 1e6


def _slowing_column(inputs: "FedsllmInputs", terms: dict[str, np.ndarray], user: int) -> str | None:
    """The input that makes `user` slow: of the largest part of its delay, the input furthest (at least a
    decade, or 10 dB) from the median user's on the slow side; None when none stands out."""
    part = max(terms, key=lambda name: terms[name][user])

    def decades(column: str, sign: int) -> float:
        values = inputs.column(column)
        if column.endswith(("_db", "_dbm")):
            return sign * (values[user] - float(np.median(values))) / 10.0
        return sign * math.log10(values[user] / float(np.median(values)))

    column, sign = max(SLOWING_COLUMNS[part], key=lambda item: decades(*item))
    return column if decades(column, sign) >= 1.0 else None


def delay_issues(inputs: "FedsllmInputs", tables: dict[str, Table]) -> list[InputIssue]:
    """A scenario whose training takes longer than LONGEST_DELAY_S at every eta, even with unlimited
    bandwidth, or whose slowest user takes more than LONGEST_SPREAD times the median user's, is reported at
    that user's row and the input that makes it slow."""
    bound, eta, user = shortest_delay_s(inputs, np.linspace(0.001, 0.999, 999))
    terms = user_delay_terms(inputs, eta)
    delays = sum(terms.values())
    median = float(np.median(delays))
    if bound <= LONGEST_DELAY_S and delays[user] <= LONGEST_SPREAD * median:
        return []
    row = tables[USERS_SHEET].rows[user]
    column = _slowing_column(inputs, terms, user)
    cell = row[column] if column else row["user"]
    label = cell.column_label if column else None
    slowest = f"user {inputs.user_ids[user]} is the slowest" + (
        f", by its {column} of {cell.value:g} (the median user's {float(np.median(inputs.column(column))):g})"
        if column else "")
    checks = f"check the units of {column}" if column else (
        "check the units of samples, cycles_per_sample, cpu_max_hz, server_cpu_max_hz, smashed_bits, "
        "model_upload_bits and the gains")
    if bound > LONGEST_DELAY_S:
        found = (f"a scenario that needs at least {bound:.3g} s ({bound / 3.156e7:.3g} years) of training at any "
                 f"eta (best at eta = {eta:.3f}), even with unlimited bandwidth: {slowest}")
        expected = f"at most {LONGEST_DELAY_S:g} s, the longest training the model plans for: {checks}"
    else:
        found = (f"a scenario in which one user takes {delays[user] / median:.3g} times as long as the median "
                 f"user ({delays[user]:.3g} s against {median:.3g} s at eta = {eta:.3f}, with unlimited "
                 f"bandwidth): {slowest}")
        expected = (f"users within {LONGEST_SPREAD:g} times the median user's delay (the eta search's bounds lose "
                    f"that factor times the rounding error, and beyond it more than the 1e-9 they must reach): "
                    f"{checks}")
    return [InputIssue(str(inputs.source), USERS_SHEET, cell.row, label, Found(found), expected)]


def load_fedsllm(path: Path | str = DEFAULT_WORKBOOK) -> FedsllmInputs:
    """Read and validate a FedsLLM workbook; raise InputError listing every problem."""
    return fedsllm_inputs(path, read_tables(path))


def fedsllm_inputs(path: Path | str, tables: dict[str, Table]) -> FedsllmInputs:
    """Validate the workbook's tables; raise InputError listing every problem, else the inputs."""
    tables = parameters_in_schema_units(tables, PARAMETERS_SHEET, FEDSLLM_PARAMETERS)
    raise_issues(validate_fedsllm(str(path), tables))
    cells = parameter_cells(tables[PARAMETERS_SHEET])
    parameters = {spec.name: float(cells[spec.name].value if spec.name in cells else spec.default)
                  for spec in FEDSLLM_PARAMETERS}  # a row left out is an optional one (Field.required)
    rows = tables[USERS_SHEET].rows
    user_ids = tuple(normalise_id(row["user"].value) for row in rows)
    users = {
        spec.name: np.array([float(row[spec.name].value) for row in rows])
        for spec in FEDSLLM_USER_COLUMNS
        if spec.kind is not Kind.ID
    }
    inputs = FedsllmInputs(str(path), parameters, user_ids, users)
    raise_issues(delay_issues(inputs, tables))
    return inputs
