"""What a user reads about the settings: `--help` (usage, then every key with its type, choices, default
and study, generated from the configuration dataclasses), the bash completion (every key and choice, also
generated) and the configuration `--cfg job` prints.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from data.card.generate import CardWorkbookSettings
from data.generate import ScenarioSettings
from solvers.app.config import MODEL_CONFIGS, ConfigError
from solvers.app.keys import KeyHelp, choice_values, key_help, shown

GENERATOR_SETTINGS = {"generate": ScenarioSettings, "generate-card": CardWorkbookSettings}

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
        extra += [f"study={k.study} only"] if k.study else []
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


def completion_script(request: str, generators: dict[str, type]) -> str:
    """The bash completion of `./fedsplit` and `fedsplit`: the subcommands, then each one's keys and choices
    (`generators`: the settings dataclass of `generate` and `generate-card`)."""
    if request != "install=bash":
        raise ConfigError(f"--shell-completion {request}: only 'install=bash' is supported")
    fills = {"__FEDSLLM__": key_help(MODEL_CONFIGS["fedsllm"]), "__CARD__": key_help(MODEL_CONFIGS["card"]),
             "__GENERATE__": key_help(generators["generate"]),
             "__GENERATE_CARD__": key_help(generators["generate-card"])}
    script = COMPLETION_TEMPLATE
    for mark, keys in fills.items():
        script = script.replace(mark, " ".join(completion_words(keys)))
    return script
