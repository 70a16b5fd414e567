"""What a user reads about the settings: `--help` (usage, then every key with its type, choices, default
and study, generated from the configuration dataclasses), the bash completion (every key and choice, also
generated) and the configuration `--cfg job` prints.
"""

from __future__ import annotations

import difflib
import re
import textwrap
import types
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from omegaconf import DictConfig, OmegaConf

from solvers.app.config import MODEL_CONFIGS, ConfigError


def generator_classes() -> dict[str, type]:
    """The settings dataclass of `generate` and `generate-card`, imported when asked for: the generators'
    modules load numpy and openpyxl, which --help and the checks of `run` do not need."""
    from data.card.generate import CardWorkbookSettings  # noqa: PLC0415
    from data.fedsllm.generate import ScenarioSettings  # noqa: PLC0415

    return {"generate": ScenarioSettings, "generate-card": CardWorkbookSettings}


# --- What the keys are (read from the settings dataclasses) --------------------------------


@dataclass(frozen=True)
class KeyHelp:
    key: str  # dotted path, e.g. "eta.step"
    default: Any
    help: str
    type: Any = None  # the annotation: int, Optional[float], an Enum, list[float], ...
    studies: tuple[str, ...] = ()  # the studies that read this key, if only they do (empty: every study)

    def read_by(self, study: str) -> bool:
        return not self.studies or study in self.studies

    @property
    def choices(self) -> tuple[str, ...]:
        """The values of a choice (an Enum key), for help and completion."""
        return tuple(choice_values(self.type))


def key_help(config_class: type, prefix: str = "", studies: tuple[str, ...] = ()) -> list[KeyHelp]:
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
        item_study = item.metadata.get("study")
        item_studies = ((item_study,) if isinstance(item_study, str) else tuple(item_study)) if item_study else studies
        if is_dataclass(value):
            keys += key_help(type(value), f"{path}.", item_studies)
        else:
            keys.append(KeyHelp(path, value.value if isinstance(value, Enum) else value,
                                item.metadata.get("help", ""), annotations[item.name], item_studies))
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


def nearest_key(key: str, model: str) -> str | None:
    """The known key of `model` closest to a mistyped one, if any is close."""
    return nearest(key, known_keys(model) + ["model"])


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


RUN_USAGE = """\
fedsplit run: solve a FedsLLM or CARD scenario given as an Excel workbook, and write a report folder
(Excel, CSV, figures, the input and the configuration used).

Usage:
  ./fedsplit run [model=fedsllm|card] [key=value ...] [options]
  (the same as `fedsplit run ...` once installed, and `python -m solvers.run ...` in the repository)

Examples:
  ./fedsplit run                                        FedsLLM's optimum on the shipped workbook
  ./fedsplit run data=my.xlsx out=results/mine          your workbook, your report folder
  ./fedsplit run model=card channel_state=Poor w=0.5    CARD's decisions
  ./fedsplit run study=monte_carlo drops=20 sweep.name=power_dbm sweep.values=[0,10,20]
  ./fedsplit run -m eta.step=0.01,0.02                  one job per value, and an index

Options:
  -h, --help               this text (with model=card or model=fedsllm: that model's keys only)
  -m, --multirun           one job per combination of swept values (eta.step=0.01,0.02), each with its
                           own report folder, plus index.csv/index.xlsx
  -c job, --cfg job        print the configuration the run would use, and stop
  -sc install=bash, --shell-completion install=bash
                           print a bash completion script: eval "$(./fedsplit run -sc install=bash)"

Settings are key=value in Hydra's override syntax, all checked before anything runs (every problem listed
at once). `hydra.run.dir=D` is `out=D`; `hydra.sweep.dir=D` is the folder of a multirun.

Exit codes: 0 done, 2 bad input or settings (nothing written), 3 a solve failed (nothing written but a
diagnostics file), 70 an internal error (a bug: the traceback is saved to a file), 130 Ctrl-C, 143 SIGTERM.
"""


def help_text(model: str | None) -> str:
    lines = [RUN_USAGE]
    for name in ([model] if model else MODEL_CONFIGS):
        lines.append(f"Keys of model={name}{' (the default)' if name == 'fedsllm' else ''}:")
        lines += key_lines(key_help(MODEL_CONFIGS[name]))
        lines.append("")
    return "\n".join(lines)


HELP_WIDTH = 110  # characters of a --help line


def key_lines(keys: list[KeyHelp]) -> list[str]:
    """Each key with its help, its choices (an Enum's values), the study that reads it and its default,
    wrapped under the help's column."""
    width = max(len(k.key) for k in keys)
    lines = []
    for k in keys:
        extra = [f"one of {', '.join(choices)}"] if (choices := choice_values(k.type)) else []
        extra += [f"study={' or '.join(k.studies)} only"] if k.studies else []
        # \0 keeps "[default:" with its value on one line; it is a space once wrapped
        text = "; ".join([part for part in (k.help, *extra) if part]) + f" [default:\0{shown(k.default)}]"
        lines += [line.replace("\0", " ") for line in textwrap.wrap(
            text, HELP_WIDTH, initial_indent=f"  {k.key:<{width}}  ", subsequent_indent=" " * (width + 4),
            break_on_hyphens=False)]
    return lines


# --- --cfg job ------------------------------------------------------------------------------

def configuration_yaml(cfg: DictConfig, default_workbook: Path) -> str:
    """The configuration a job runs with: the workbook named when `data` is left to its default, and each
    other null followed by what it stands for (the workbook's value, a local cluster, ...)."""
    shown_cfg = OmegaConf.to_container(cfg, resolve=True)
    shown_cfg = {"model": shown_cfg.pop("model"), **shown_cfg}  # first, whatever a base class declares first
    if shown_cfg.get("data") is None:
        shown_cfg["data"] = str(default_workbook)
    meanings = {k.key: k.help.split("null: ", 1)[1] for k in key_help(MODEL_CONFIGS[cfg.model]) if "null: " in k.help}
    lines, path = [], []
    for line in OmegaConf.to_yaml(shown_cfg).splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.strip().split(":", 1)[0]
        path = [*path[:depth], name]
        meaning = meanings.get(".".join(path))
        lines.append(f"{line}  # {meaning}" if line.endswith(": null") and meaning else line)
    return "\n".join(lines)


# --- Completion -------------------------------------------------------------------------------

def completion_words(keys: list[KeyHelp]) -> list[str]:
    """`key=choice` for every choice and true/false of a key, `key=` for the others."""
    words = []
    for k in keys:
        choices = choice_values(k.type) or (["true", "false"] if k.type is bool else [])
        words += [f"{k.key}={choice}" for choice in choices] or [f"{k.key}="]
    return words


COMPLETION_TEMPLATE = r'''_fedsplit_complete() {
    # The word being completed, read from the line itself: bash splits COMP_WORDS at '=' and ':'.
    local line="${COMP_LINE:0:COMP_POINT}"
    local cur="${line##*[[:space:]]}"
    local words
    if [[ $COMP_CWORD -le 1 ]]; then
        words="run generate generate-card"
        [[ "${COMP_WORDS[0]}" == */fedsplit ]] && words="$words test bench"
    else
        case "${COMP_WORDS[1]}" in
            run)
                if [[ " $line" == *" model=card "* ]]; then words="__CARD__"; else words="__FEDSLLM__"; fi
                words="$words model=fedsllm model=card -m --multirun --help --cfg" ;;
            generate) words="__GENERATE__ --help" ;;
            generate-card) words="__GENERATE_CARD__ --help" ;;
            *) return 0 ;;
        esac
    fi
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
    local head="${cur%[=:]*}"
    if [[ "$head" != "$cur" ]]; then  # hand back only what follows the last '=' or ':' of the word
        local cut="${cur:0:${#head}+1}"
        COMPREPLY=( "${COMPREPLY[@]#"$cut"}" )
    fi
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *= ]]; then compopt -o nospace; fi
}
complete -F _fedsplit_complete fedsplit ./fedsplit'''


def completion_script(request: str, generators: dict[str, type] | None = None) -> str:
    """The bash completion of `./fedsplit` and `fedsplit`: the subcommands, then each one's keys and choices
    (`generators`: the settings dataclass of `generate` and `generate-card`)."""
    if request != "install=bash":
        raise ConfigError(f"--shell-completion {request}: only 'install=bash' is supported")
    generators = generators or generator_classes()
    fills = {"__FEDSLLM__": key_help(MODEL_CONFIGS["fedsllm"]), "__CARD__": key_help(MODEL_CONFIGS["card"]),
             "__GENERATE__": key_help(generators["generate"]),
             "__GENERATE_CARD__": key_help(generators["generate-card"])}
    script = COMPLETION_TEMPLATE
    for mark, keys in fills.items():
        script = script.replace(mark, " ".join(completion_words(keys)))
    return script
