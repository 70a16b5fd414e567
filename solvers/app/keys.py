"""What the keys are, read from the settings dataclasses (solvers/app/config.py, and the generators' in
data/): each key's dotted path, default, help, type and study; what a type takes, in words; the nearest
key or choice to a mistyped one. `--help`, the completion and the override checks all read these.
"""

from __future__ import annotations

import difflib
import re
import types
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from solvers.app.config import MODEL_CONFIGS


@dataclass(frozen=True)
class KeyHelp:
    key: str  # dotted path, e.g. "eta.step"
    default: Any
    help: str
    type: Any = None  # the annotation: int, Optional[float], an Enum, list[float], ...
    study: str | None = None  # the one study that reads this key, if only one does


def key_help(config_class: type, prefix: str = "", study: str | None = None) -> list[KeyHelp]:
    """Every leaf key of a settings dataclass, with its default, help, type and study, in declaration
    order (a group's study holds for its keys); `internal` keys (set by fedsplit itself) are left out."""
    keys = []
    instance = config_class()
    annotations = get_type_hints(config_class)
    for item in fields(config_class):
        if item.metadata.get("internal"):
            continue
        value = getattr(instance, item.name)
        path = f"{prefix}{item.name}"
        item_study = item.metadata.get("study") or study
        if is_dataclass(value):
            keys += key_help(type(value), f"{path}.", item_study)
        else:
            keys.append(KeyHelp(path, value.value if isinstance(value, Enum) else value,
                                item.metadata.get("help", ""), annotations[item.name], item_study))
    return keys


def known_keys(model: str) -> list[str]:
    return [k.key for k in key_help(MODEL_CONFIGS[model])]


def nearest(key: str, candidates: list[str]) -> str | None:
    """The candidate closest to a mistyped key, if any is close."""
    matches = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not matches:  # a right last word under a wrong or missing group: eta_step -> eta.step
        last_word = re.split(r"[._]", key)[-1]
        matches = [c for c in candidates if c.rsplit(".", 1)[-1] == last_word][:1]
    return matches[0] if matches else None


def shown(value: object) -> str:
    """A value as it is typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{shown(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- Types in words ---------------------------------------------------------------------------

def _optional_inner(annotation: Any) -> Any | None:
    """X for Optional[X], else None."""
    if get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation):
        return next(a for a in get_args(annotation) if a is not type(None))
    return None


def choice_values(annotation: Any) -> list[str]:
    """An Enum key's values (also under Optional), or none."""
    candidate = _optional_inner(annotation) or annotation
    if isinstance(candidate, type) and issubclass(candidate, Enum):
        return [str(member.value) for member in candidate]
    return []


def expected_value(annotation: Any) -> str:
    """What a key of this type takes, as the user types it."""
    inner = _optional_inner(annotation)
    if inner is not None:
        return f"{expected_value(inner)}, or null"
    if choice_values(annotation):
        return f"one of {', '.join(choice_values(annotation))}"
    if get_origin(annotation) is list:
        element = (get_args(annotation) or (None,))[0]
        plural = {int: "whole numbers", float: "numbers", str: "texts"}.get(element, "values")
        return f"a list of {plural} in brackets, like [0,2,4]"
    if get_origin(annotation) is dict:
        return "NAME=VALUE pairs"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}.get(annotation, "a value")


def choice_hint(annotation: Any, value: object) -> str:
    """' (did you mean Good?)' for a near miss of a choice key's values (any case, or a close spelling)."""
    choices = choice_values(annotation)
    if not choices or not isinstance(value, str):
        return ""
    near = [c for c in choices if c.lower() == value.lower()] or difflib.get_close_matches(value, choices, n=1,
                                                                                           cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""
