"""Declarative description of the input workbooks.

Each parameter (a row of a `parameters` sheet) and each table column is one
`Field`: its name, unit, meaning, kind and allowed range. Loading, validation,
the scenario generator and the README all read these tables, so adding a
parameter is one entry here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Kind(Enum):
    """What a cell holds."""

    REAL = "real"  # a finite number
    INTEGER = "integer"  # a whole number
    ID = "id"  # text or a whole number, unique in its column
    TEXT = "text"
    CHOICE = "choice"  # one of `choices`
    LIST = "list"  # a comma-separated list of `choices`
    BOOL = "bool"


TEXT_KINDS = (Kind.ID, Kind.TEXT, Kind.CHOICE, Kind.LIST, Kind.BOOL)
# A number id is one Excel holds exactly (15 digits) and that reads back the same as text: not negative, so
# no CSV reader takes "-3" for a formula. Every other id is text, kept exactly as typed ("007", "１２", "²").
LARGEST_NUMBER_ID = 999_999_999_999_999


@dataclass(frozen=True)
class Field:
    name: str
    unit: str
    description: str
    kind: Kind = Kind.REAL
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be strictly above `low`
    high_open: bool = False  # True: the value must be strictly below `high`
    default: object = None  # what the scenario generators write
    choices: tuple[str, ...] = ()  # for "choice" and "list"
    required: bool = True  # False: a parameter row that may be left out (its default is used)

    def expected(self) -> str:
        """What a valid value looks like, in words."""
        if self.kind is Kind.ID:
            return f"a non-empty id: a text, or a whole number from 0 to {LARGEST_NUMBER_ID:,}"
        if self.kind is Kind.TEXT:
            return "a non-empty text"
        if self.kind is Kind.CHOICE:
            return f"one of {', '.join(self.choices)}"
        if self.kind is Kind.LIST:
            return f"a comma-separated list of {', '.join(self.choices)}"
        if self.kind is Kind.BOOL:
            return "TRUE or FALSE (or 1 / 0)"
        noun = "a whole number" if self.kind is Kind.INTEGER else "a finite number"
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
        if self.kind in TEXT_KINDS:
            return None if self._text_kind_ok(value) else self.expected()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.expected()
        number = float(value) if abs(value) <= 1e308 else math.inf  # an int beyond any double
        if not math.isfinite(number):
            return self.expected()
        if self.kind is Kind.INTEGER and not number.is_integer():
            return self.expected()
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return self.expected()
        if self.high is not None and (number > self.high or (self.high_open and number == self.high)):
            return self.expected()
        return None

    def _text_kind_ok(self, value: object) -> bool:
        if self.kind is Kind.ID:
            return isinstance(value, str) or (
                isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= LARGEST_NUMBER_ID
                and float(value).is_integer())
        if self.kind is Kind.TEXT:
            return isinstance(value, str)
        if self.kind is Kind.BOOL:
            return isinstance(value, bool) or value in (0, 1)
        if not isinstance(value, str):
            return False
        items = [item.strip().lower() for item in value.split(",")] if self.kind is Kind.LIST else [value.lower()]
        allowed = {choice.lower() for choice in self.choices}
        return bool(items) and all(item in allowed for item in items)

    def convert(self, value: object) -> object:
        """A valid cell value as the loader hands it out."""
        if self.kind is Kind.REAL:
            return float(value)
        if self.kind is Kind.INTEGER:
            return int(value)
        if self.kind is Kind.BOOL:
            return bool(value)
        by_lower = {choice.lower(): choice for choice in self.choices}
        if self.kind is Kind.CHOICE:
            return by_lower[value.lower()]
        if self.kind is Kind.LIST:
            return tuple(by_lower[item.strip().lower()] for item in value.split(","))
        return value


def field_named(fields: tuple[Field, ...], name: str) -> Field:
    """The field of `fields` called `name`."""
    return next(f for f in fields if f.name == name)


# --- FedsLLM (docs/fedsllm.md) -------------------------------------------------

FEDSLLM_PARAMETERS: tuple[Field, ...] = (
    Field("L", "-", "smoothness constant of the local losses", low=0, high=1e6, low_open=True, default=3.2035),
    Field("gamma", "-", "strong-convexity constant of the local losses", low=0, high=1e6, low_open=True, default=2.9767),
    Field("xi", "-", "Lemma 1 constant, 0 < xi <= gamma/L", low=0, low_open=True, default=0.1),
    Field("delta", "-", "local gradient step, 0 < delta < 2/L", low=0, low_open=True, default=0.1),
    Field("eps0", "-", "target global accuracy", low=0, high=1, low_open=True, high_open=True, default=1e-3),
    Field("smashed_bits", "bit", "smashed data per client per local iteration (s)", low=1, high=1e15, default=281e3),
    Field("model_upload_bits", "bit", "client sub-network upload per round (s_c)", low=1, high=1e15, default=28.1e3),
    # Radio channels: 1 kHz (narrower than any) to 100 GHz (wider than any allocation).
    Field("bandwidth_main_hz", "Hz", "total bandwidth to the main server (B_s)", low=1e3, high=1e11, default=20e6),
    Field("bandwidth_fed_hz", "Hz", "total bandwidth to the fed server (B_c)", low=1e3, high=1e11, default=20e6),
    # Thermal noise is -174 dBm/Hz at 290 K: -200 is 0.7 K, -100 hotter than any receiver.
    Field("noise_psd_dbm_per_hz", "dBm/Hz", "noise power spectral density N0 on both links", low=-200, high=-100,
          default=-174),
    Field("server_cpu_max_hz", "Hz", "main-server CPU frequency f_s^max", low=1e3, high=1e15, default=20e9),
    Field("client_share_min", "-", "smallest client share of the model A_min", low=0, high=1, default=0.1),
    Field("client_share_max", "-", "largest client share of the model A_max", low=0, high=1, default=0.9),
    # Below 1e-4 the grid would take hours; the refinement finds eta to 1e-6 from any grid.
    Field("eta_step", "-", "step of the local-accuracy grid", low=1e-4, high=0.5, default=0.01),
    # Energy (docs/fedsllm.md, "Energy"): kappa f^2 joules per cycle. Rows added after the delay model's, so
    # optional: an older workbook without them runs with the defaults. 1e-20 is 1e8 times the paper's value.
    Field("kappa", "J/(cycle Hz^2)", "client CPU energy coefficient: kappa f_k^2 joules per cycle", low=0,
          high=1e-20, default=1e-28, required=False),
    Field("server_kappa", "J/(cycle Hz^2)", "main-server CPU energy coefficient kappa_s: kappa_s f_s^2 joules per "
          "cycle", low=0, high=1e-20, default=1e-28, required=False),
)

FEDSLLM_USER_COLUMNS: tuple[Field, ...] = (
    Field("user", "-", "user id", kind=Kind.ID),
    Field("distance_m", "m", "distance to the base station (record only)", low=0, high=1e7, low_open=True),
    Field("shadowing_db", "dB", "log-normal shadowing drawn for this user (record only)", low=-200, high=200),
    # Path losses beyond 250 dB are no radio link; the SNR rule (data/fedsllm/inputs.py) bounds the link budget.
    Field("gain_main_db", "dB", "channel gain to the main server g_s", low=-250, high=0, high_open=True),
    Field("gain_fed_db", "dB", "channel gain to the fed server g_c", low=-250, high=0, high_open=True),
    Field("samples", "-", "local data samples D_k", kind=Kind.INTEGER, low=1, high=1e12),
    Field("cycles_per_sample", "cycles", "CPU cycles per sample for the whole model C_k", low=1, high=1e15),
    Field("cpu_max_hz", "Hz", "client CPU frequency f_k^max", low=1e3, high=1e15),
    Field("power_main_max_dbm", "dBm", "maximum transmit power to the main server", low=-100, high=60),
    Field("power_fed_max_dbm", "dBm", "maximum transmit power to the fed server", low=-100, high=60),
)


# --- CARD (docs/card.md) -------------------------------------------------------

CHANNEL_STATES = ("Good", "Normal", "Poor")
LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")

CARD_PARAMETERS: tuple[Field, ...] = (
    Field("w", "-", "weight of delay against server energy in the cost U", low=0, high=1, default=0.2),
    Field("xi", "W/(cycle/s)^3", "server GPU power coefficient, P = xi f^3", low=0, high=1e-10, low_open=True, default=1e-25),
    Field("local_epochs", "-", "local epochs (mini-batches) per round T", kind=Kind.INTEGER, low=1, high=1_000_000, default=5),
    Field("compression", "-", "compression ratio of smashed data and gradient phi", low=0, high=1, low_open=True,
          default=0.1),
    # Every device-round is a row of the report: 1,000 rounds of five devices take about a minute.
    Field("rounds", "-", "training rounds N", kind=Kind.INTEGER, low=1, high=1_000, default=20),
    Field("bandwidth_hz", "Hz", "bandwidth per device in each direction B", low=1e3, high=1e11, default=20e6),
    Field("noise_psd_dbm_per_hz", "dBm/Hz", "noise power spectral density N0", low=-200, high=-100, default=-174),
    Field("device_tx_dbm", "dBm", "device transmit power (up-link)", low=-100, high=60, default=20),
    Field("ap_tx_dbm", "dBm", "access point transmit power (down-link)", low=-100, high=60, default=30),
    Field("path_loss_ref_db", "dB", "path loss at 1 m, PL(d) = PL0 + 10 alpha log10(d/1 m)", low=0, high=200,
          default=40),
    Field("channel_state", "-", "Good / Normal / Poor = path-loss exponent 2 / 4 / 6", kind=Kind.CHOICE,
          choices=CHANNEL_STATES, default="Normal"),
    Field("batch_size", "-", "samples per mini-batch", kind=Kind.INTEGER, low=1, high=1_000_000, default=8),
    Field("sequence_length", "-", "tokens per sample", kind=Kind.INTEGER, low=1, high=10_000_000, default=256),
    Field("lora_rank", "-", "LoRA rank r", kind=Kind.INTEGER, low=1, high=100_000, default=8),
    Field("lora_targets", "-", "projections with LoRA adapters", kind=Kind.LIST, choices=LORA_TARGETS, default="q,v"),
    Field("bytes_per_value", "byte", "bytes per activation, gradient and adapter value", low=0, high=64, low_open=True,
          default=2),
    Field("backward_forward_ratio", "-", "backward FLOPs / forward FLOPs", low=0, high=100, default=2),
    Field("seed", "-", "seed of the Rayleigh fading draws", kind=Kind.INTEGER, low=0, high=2**32 - 1, default=1),
)

CARD_SERVER_COLUMNS: tuple[Field, ...] = (
    Field("clock_max_hz", "Hz", "server GPU maximum core clock F_max^S", low=1e6, high=1e11),
    Field("cores", "-", "server GPU cores sigma^S", kind=Kind.INTEGER, low=1, high=1e8),
    Field("flops_per_cycle", "FLOP/cycle", "FLOPs per core per cycle delta^S", low=0, high=1e4, low_open=True),
)

CARD_DEVICE_COLUMNS: tuple[Field, ...] = (
    Field("device", "-", "device id", kind=Kind.ID),
    Field("platform", "-", "hardware name (record only)", kind=Kind.TEXT),
    Field("clock_hz", "Hz", "device GPU core clock f^D", low=1e6, high=1e11),
    Field("cores", "-", "device GPU cores sigma^D", kind=Kind.INTEGER, low=1, high=1e8),
    Field("flops_per_cycle", "FLOP/cycle", "FLOPs per core per cycle delta^D", low=0, high=1e4, low_open=True),
    Field("distance_m", "m", "distance to the access point", low=0, high=1e5, low_open=True),
)

CARD_LLM_COLUMNS: tuple[Field, ...] = (
    # Sizes up to 100x today's largest models; layers up to 200 (today's deepest have about 130): P1 has one
    # binary per cut and the cross-checks solve P3 at every cut.
    Field("hidden_size", "-", "model width h", kind=Kind.INTEGER, low=1, high=1_000_000),
    Field("layers", "-", "transformer (decoder) layers I", kind=Kind.INTEGER, low=1, high=200),
    Field("intermediate_size", "-", "MLP width", kind=Kind.INTEGER, low=1, high=10_000_000),
    Field("attention_heads", "-", "query heads", kind=Kind.INTEGER, low=1, high=10_000),
    Field("kv_heads", "-", "key/value heads (grouped-query attention)", kind=Kind.INTEGER, low=1, high=10_000),
    Field("vocab_size", "-", "vocabulary size", kind=Kind.INTEGER, low=1, high=100_000_000),
    Field("tied_embeddings", "-", "output head shares the embedding matrix", kind=Kind.BOOL),
)

CARD_CQI_COLUMNS: tuple[Field, ...] = (
    Field("cqi", "-", "CQI index", kind=Kind.INTEGER, low=1, high=15),
    Field("modulation", "-", "modulation (record only)", kind=Kind.TEXT),
    Field("code_rate_x1024", "-", "code rate x 1024 (record only)", low=0, high=1024, low_open=True),
    Field("efficiency", "bit/s/Hz", "spectral efficiency", low=0, high=100, low_open=True),
    Field("snr_threshold_db", "dB", "lowest SNR at which this CQI is used", low=-100, high=100),
)

CARD_LAYER_COLUMNS: tuple[Field, ...] = (
    Field("layer", "-", "0 = embedding, 1..I = transformer layers, I+1 = output head", kind=Kind.INTEGER, low=0, high=201),
    Field("forward_flops", "FLOP", "forward FLOPs of this layer for one mini-batch", low=0, high=1e21),
    Field("output_bits", "bit", "size of this layer's output activations for one mini-batch", low=0, high=1e15),
    Field("adapter_bits", "bit", "size of this layer's LoRA adapters", low=0, high=1e15),
)


# The workbooks shipped with fedsplit, each model's default input.
SHIPPED_WORKBOOKS = {"fedsllm": Path(__file__).parent / "fedsllm.xlsx", "card": Path(__file__).parent / "card.xlsx"}
# The shipped workbooks' contents as committed: a file with these bytes is valid (tests/test_workbook_memo.py
# validates them and checks these digests), so a command refused for its settings need not read it again to
# list the workbook's problems beside them. Update them with the workbook (sha256sum data/*.xlsx).
SHIPPED_WORKBOOK_SHA256 = {
    "fedsllm": "d42cd31f48bde826b4a4496a0f023bd5313d26e927226b490fdf4a90f0b47ed6",
    "card": "ae1308debf967f249e990dbe4eca725b72d380777c1ba6f2dd2570c2ad4a01b5",
}


def is_shipped_workbook(model: str, path: Path) -> bool:
    """Whether the file at `path` is an .xlsx file holding the model's shipped workbook byte for byte
    (unedited): the same name ending (a copy named .csv is refused by the reader), the same size, then the
    same digest (read in blocks: any other file is told apart by its size first)."""
    import hashlib  # noqa: PLC0415

    try:
        if path.suffix.lower() != ".xlsx" or not path.is_file():
            return False
        if path.stat().st_size != SHIPPED_WORKBOOKS[model].stat().st_size:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest() == SHIPPED_WORKBOOK_SHA256[model]
    except OSError:
        return False
LONGEST_DELAY_S = 1e9  # about 32 years: the longest training the model plans for (a delay limit's range)


def within(low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False,
           whole: bool = False, unit: str = "-") -> Field:
    """The range of a setting that no workbook cell has."""
    return Field("", unit, "", Kind.INTEGER if whole else Kind.REAL, low, high, low_open, high_open)


# --- What a study may sweep (data/drops.py applies it) ------------------------------------------

FEDSLLM_SWEEPS = ("power_dbm", "users")  # besides the numeric workbook parameters


def _numeric(fields: tuple[Field, ...], excluded: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in fields if f.kind in (Kind.REAL, Kind.INTEGER) and f.name not in excluded)


def fedsllm_sweep_names() -> tuple[str, ...]:
    return (*FEDSLLM_SWEEPS, *_numeric(FEDSLLM_PARAMETERS, ("eta_step",)))


def card_sweep_names() -> tuple[str, ...]:
    return _numeric(CARD_PARAMETERS, ("seed",))


def sweep_field(model: str, name: str) -> Field | None:
    """The schema field a swept value replaces (None for power_dbm and users, checked by the caller)."""
    fields = FEDSLLM_PARAMETERS if model == "fedsllm" else CARD_PARAMETERS
    return next((f for f in fields if f.name == name), None)
