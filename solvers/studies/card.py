"""A CARD study task: the three methods under the three channel states on one drop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from data.card.inputs import CardInputs
from data.drops import card_drop
from data.papers import CARD_METHODS
from solvers.studies.tasks import StudyTask, worker_name, task_row




@dataclass(frozen=True)
class CardStudySpec:
    base: CardInputs
    sweep_name: str | None


def _card_row(task: StudyTask, state: str, method: str, **values) -> dict:
    return {**task_row(task, method, channel_state=state), **values}


def run_card_task(spec: CardStudySpec, task: StudyTask) -> list[dict]:
    """CARD, server-only and device-only under Good, Normal and Poor on one drop: mean delay, server energy
    and cost U per device-round in range."""
    from data.card.profile import build_profile  # noqa: PLC0415
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    from solvers.card.state import solve_state  # noqa: PLC0415

    worker = worker_name()
    inputs = card_drop(spec.base, task.seed, spec.sweep_name, task.sweep_value)
    profile = build_profile(inputs)
    rows = []
    for state in CHANNEL_STATES:
        clock = time.perf_counter()
        result = solve_state(inputs, profile, state)
        seconds = time.perf_counter() - clock
        for key, method in CARD_METHODS.items():
            ok = bool(result.pairs)
            rows.append(_card_row(task, state, method, delay_s=result.mean(key, "delay_s"),
                                  energy_j=result.mean(key, "energy_j"), cost=result.mean(key, "cost"),
                                  pairs=len(result.pairs), out_of_range=len(result.out_of_range),
                                  status="ok" if ok else "failed",
                                  message="" if ok else "every device-round is out of range",
                                  seconds=seconds, worker=worker))
    return rows


def card_task_failure(task: StudyTask, message: str) -> list[dict]:
    from data.schema import CHANNEL_STATES  # noqa: PLC0415
    return [_card_row(task, state, method, delay_s=math.nan, energy_j=math.nan, cost=math.nan, pairs=0,
                      out_of_range=0, status="failed", message=message, seconds=math.nan, worker="")
            for state in CHANNEL_STATES for method in CARD_METHODS.values()]
