"""Write CARD workbooks: the paper's setting (Section V) and the spec's defaults.

    ./fedsplit generate-card layers=32 out=data/card.xlsx              (solvers/app/script.py)
    ./fedsplit generate-card layers=16 out=data/card_llama32_1b.xlsx

Devices and server as in the paper's table; distances uniform in [5, 25] m
(seeded by `distance_seed`); LLaMA-3.2-1B's public configuration with `layers`
decoder layers (the paper says 32; the real model has 16); the 3GPP TS 38.214
CQI table with the spec's 10 % BLER AWGN thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


import numpy as np

from data.fedsllm.generate import described, field_problems
from data.schema import (
    CARD_CQI_COLUMNS, CARD_DEVICE_COLUMNS, CARD_LLM_COLUMNS, CARD_PARAMETERS, CARD_SERVER_COLUMNS, Field, Kind,
    field_named,
)
from data.input_style import style_workbook
from data.workbook import append_as_data, new_workbook_with_parameters

SERVER = {"clock_max_hz": 2.46e9, "cores": 3072, "flops_per_cycle": 2}
DEVICES = [  # device, platform, clock_hz, cores, flops_per_cycle
    (1, "Jetson AGX Orin", 1.3e9, 2048, 2),
    (2, "Jetson AGX Orin", 1.0e9, 2048, 2),
    (3, "Jetson AGX Orin", 0.7e9, 1792, 2),
    (4, "Jetson Orin NX", 0.7e9, 1024, 2),
    (5, "Jetson Nano", 0.5e9, 512, 2),
]
LLAMA_3_2_1B = {"hidden_size": 2048, "layers": 16, "intermediate_size": 8192, "attention_heads": 32, "kv_heads": 8,
                "vocab_size": 128256, "tied_embeddings": True}
CQI_TABLE = [  # cqi, modulation, code rate x 1024, efficiency, SNR threshold (dB)
    (1, "QPSK", 78, 0.1523, -6.7), (2, "QPSK", 120, 0.2344, -4.7), (3, "QPSK", 193, 0.3770, -2.3),
    (4, "QPSK", 308, 0.6016, 0.2), (5, "QPSK", 449, 0.8770, 2.4), (6, "QPSK", 602, 1.1758, 4.3),
    (7, "16QAM", 378, 1.4766, 5.9), (8, "16QAM", 490, 1.9141, 8.1), (9, "16QAM", 616, 2.4063, 10.3),
    (10, "64QAM", 466, 2.7305, 11.7), (11, "64QAM", 567, 3.3223, 14.1), (12, "64QAM", 666, 3.9023, 16.3),
    (13, "64QAM", 772, 4.5234, 18.7), (14, "64QAM", 873, 5.1152, 21.0), (15, "64QAM", 948, 5.5547, 22.7),
]


@dataclass(frozen=True)
class CardWorkbookSettings:
    layers: int = described(32, "decoder layers I of the LLM (the paper says 32; LLaMA-3.2-1B has 16)")
    distance_seed: int = described(1, "seed of the devices' distances")
    distance_min_m: float = described(5.0, "distances are drawn uniform in [distance_min_m, distance_max_m] (m)")
    distance_max_m: float = described(25.0, "see distance_min_m (m)")
    out: str = described("card.xlsx", "the workbook to write, relative to where you run; its folder must exist")
    overwrite: bool = described(False, "replace an existing out")


# Each setting's range, like the workbook cells it fills.
CARD_WORKBOOK_FIELDS = {
    "layers": field_named(CARD_LLM_COLUMNS, "layers"),
    "distance_seed": Field("distance_seed", "-", "seed", Kind.INTEGER, low=0, high=2**32 - 1),
    "distance_min_m": field_named(CARD_DEVICE_COLUMNS, "distance_m"),
    "distance_max_m": field_named(CARD_DEVICE_COLUMNS, "distance_m"),
}


def card_workbook_problems(settings: CardWorkbookSettings) -> list[str]:
    """Every setting that cannot write a workbook, in words (before anything is written)."""
    problems = field_problems(settings, CARD_WORKBOOK_FIELDS)
    if not problems and settings.distance_min_m > settings.distance_max_m:
        problems.append(f"distance_min_m={settings.distance_min_m:g}: expected <= distance_max_m="
                        f"{settings.distance_max_m:g}")
    return problems


def _sheet(workbook, title: str, fields, rows) -> None:
    sheet = workbook.create_sheet(title)
    append_as_data(sheet, [f.name for f in fields])
    for row in rows:
        append_as_data(sheet, list(row))


def write_card_workbook(path: Path, settings: CardWorkbookSettings = CardWorkbookSettings(),
                        parameters: dict | None = None, devices=None, llm: dict | None = None) -> Path:
    workbook = new_workbook_with_parameters(CARD_PARAMETERS, parameters or {})
    _sheet(workbook, "server", CARD_SERVER_COLUMNS, [[SERVER[f.name] for f in CARD_SERVER_COLUMNS]])
    if devices is None:
        rng = np.random.default_rng(settings.distance_seed)
        distances = rng.uniform(settings.distance_min_m, settings.distance_max_m, len(DEVICES))
        devices = [(*device, float(distance)) for device, distance in zip(DEVICES, distances)]
    _sheet(workbook, "devices", CARD_DEVICE_COLUMNS, devices)
    model = {**LLAMA_3_2_1B, "layers": settings.layers, **(llm or {})}
    _sheet(workbook, "llm", CARD_LLM_COLUMNS, [[model[f.name] for f in CARD_LLM_COLUMNS]])
    _sheet(workbook, "cqi", CARD_CQI_COLUMNS, CQI_TABLE)
    style_workbook(workbook, "card")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
