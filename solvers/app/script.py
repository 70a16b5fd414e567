"""The one front end: `./fedsplit` (after its set-up), the installed `fedsplit` console script
(pyproject's [project.scripts]) and `python -m solvers.run` all come here, and each subcommand checks its
settings the same way: every problem at once, the nearest key, exit 2 before anything is written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hydra.core.override_parser.types import OverrideType
from omegaconf import OmegaConf

from data.card.generate import card_workbook_problems, write_card_workbook
from data.fedsllm.generate import generate, scenario_problems
from data.workbook import OutputExistsError, writable_target
from solvers.app import cli
from solvers.app.config import ConfigError
from solvers.app.help import GENERATOR_SETTINGS, key_help, key_lines
from solvers.app.overrides import SettingsProblems, parse_overrides, unknown_key_problem, value_problems

USAGE = """\
usage: fedsplit COMMAND [key=value ...] [--help]

Commands:
  run             solve a FedsLLM or CARD workbook and write a report    (fedsplit run --help)
  generate        draw a FedsLLM scenario workbook (the paper's Section IV simulation)
  generate-card   write a CARD workbook (the paper's devices and server, LLaMA-3.2-1B, the CQI table)

`COMMAND --help` lists its keys and defaults. The repository's ./fedsplit also has
`test [pytest args]` (the test suite) and `bench [NAME]` (a benchmark of bench/)."""


@dataclass(frozen=True)
class Generator:
    """A workbook-writing subcommand: its settings, what it says it does, their checks and the writing."""

    about: str
    problems: Callable[[object], list[str]]
    write: Callable[[object], Path]
    done: Callable[[object, Path], str]

    def usage(self, name: str) -> str:
        keys = key_help(GENERATOR_SETTINGS[name])
        return "\n".join([f"fedsplit {name}: {self.about}", "", f"usage: ./fedsplit {name} [key=value ...]   "
                          f"(fedsplit {name} ... once installed)", "", "Keys:", *key_lines(keys)])


GENERATORS = {
    "generate": Generator(
        "draw a FedsLLM scenario workbook as in the paper's simulation (Section IV): users uniform in a square "
        "around the base station, path loss 128.1 + 37.6 log10(d/km) dB with log-normal shadowing, samples "
        "multinomial, C_k uniform.", scenario_problems, generate,
        lambda s, path: f"wrote {path} ({s.users} users, seed {s.seed})"),
    "generate-card": Generator(
        "write a CARD workbook: the paper's devices and server (Section V), distances uniform in [distance_min_m, "
        "distance_max_m], LLaMA-3.2-1B's configuration with `layers` decoder layers, the 3GPP CQI table.",
        card_workbook_problems, lambda s: write_card_workbook(Path(s.out), s),
        lambda s, path: f"wrote {path} ({s.layers} layers)"),
}


def generator_settings(name: str, texts: list[str]) -> object:
    """The settings of `generate` or `generate-card` from key=value texts, or SettingsProblems listing every
    unknown key (with the nearest), wrong type, out-of-range value and unusable `out` at once."""
    settings_class = GENERATOR_SETTINGS[name]
    keys = {k.key: k for k in key_help(settings_class)}
    parsed, problems = parse_overrides(texts)
    known = []
    for override in parsed:
        key, text = override.key_or_group, override.input_line
        if override.is_sweep_override():
            problems.append(f"{text}: one value per key; {name} writes one workbook")
        elif key.lstrip("+~") not in keys:
            problems.append(unknown_key_problem(text, key, list(keys), name))
        elif override.type is not OverrideType.CHANGE:
            problems.append(f"{text}: write {key.lstrip('+~')}=VALUE")
        else:
            known.append(override)
    fitting, wrong_values = value_problems(settings_class, keys, known)
    config = OmegaConf.structured(settings_class)
    OmegaConf.set_readonly(config, False)
    for override in fitting:
        OmegaConf.update(config, override.key_or_group, override.value(), merge=True)
    settings = OmegaConf.to_object(config)
    problems += wrong_values + GENERATORS[name].problems(settings)
    try:
        writable_target(Path(settings.out), settings.overwrite)
    except OutputExistsError as error:
        problems.append(str(error))
    if problems:
        raise SettingsProblems(problems)
    return settings


def generator_main(name: str, argv: list[str]) -> int:
    def command(args: list[str]) -> int:
        if any(arg in ("-h", "--help") for arg in args):
            print(GENERATORS[name].usage(name))
            return cli.EXIT_OK
        flags = [arg for arg in args if arg.startswith("-") and "=" not in arg]
        if flags:
            raise ConfigError(f"unknown option {flags[0]}; {name} takes -h/--help and key=value settings")
        settings = generator_settings(name, args)
        try:
            path = GENERATORS[name].write(settings)
        except ValueError as error:  # a draw that cannot be made (a user drew no samples)
            raise SettingsProblems([str(error)]) from None
        except OSError as error:
            raise SettingsProblems([f"cannot write {error.filename or settings.out}: {error.strerror or error}"]
                                   ) from None
        print(GENERATORS[name].done(settings, path))
        return cli.EXIT_OK

    return cli.guarded(command, argv)


COMMANDS = {"run": cli.main, **{name: (lambda argv, name=name: generator_main(name, argv)) for name in GENERATORS}}


def main(argv: list[str] | None = None, default: str | None = None) -> int:
    """`fedsplit COMMAND ...`; `default` is the command when the first word is none (`python -m solvers.run
    model=card` runs)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    if argv and argv[0] in ("-h", "--help") and default is None:
        print(USAGE)
        return cli.EXIT_OK
    if default is not None:
        return COMMANDS[default](argv)
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
