"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

It reads the command line in Hydra's override syntax, checks every override
against the configuration's schema (solvers/app/config.py) and dispatches to the
model's pipeline (solvers/app/fedsllm.py, solvers/app/card.py), which
runs read -> validate -> build -> solve -> certify -> report.

Flags, as Hydra users know them:
  -h, --help               every key with its default and a one-line description
  -m, --multirun           one job per combination of swept values (eta.step=0.01,0.02),
                           each with its own report folder, plus index.csv/index.xlsx
  -c job, --cfg job        print the resolved configuration and stop
  -sc install=bash, --shell-completion install=bash
                           print a bash completion script (eval "$(fedsplit run -sc install=bash)")
`hydra.run.dir=D` is `out=D`; `hydra.sweep.dir=D` is the folder of a multirun.

Exit codes: 0 done, 2 bad input or configuration (nothing written), 3 a solve
failed (nothing written but a diagnostics file), 70 an internal error (a bug:
the traceback is saved to a file), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

from solvers.app.config import MODEL_CONFIGS, ConfigError, key_help


def help_text(model: str | None) -> str:
    lines = [__doc__.strip(), ""]
    for name in ([model] if model else MODEL_CONFIGS):
        lines.append(f"Keys of model={name}{' (the default)' if name == 'fedsllm' else ''}:")
        keys = key_help(MODEL_CONFIGS[name])
        width = max(len(k.key) for k in keys)
        for k in keys:
            lines.append(f"  {k.key:<{width}}  {k.help} [default: {_shown(k.default)}]")
        lines.append("")
    return "\n".join(lines)


def _shown(value: object) -> str:
    """A default as it is typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def completion_script(request: str) -> str:
    if request != "install=bash":
        raise ConfigError(f"--shell-completion {request}: only 'install=bash' is supported")
    words = {"run", "generate", "-m", "--multirun", "--help", "--cfg", *(f"model={name}" for name in MODEL_CONFIGS)}
    for name in MODEL_CONFIGS:
        for key in key_help(MODEL_CONFIGS[name]):
            words |= {f"{key.key}="} | {f"{key.key}={choice}" for choice in key.choices}
    return ("_fedsplit_complete() {\n"
            '    COMPREPLY=( $(compgen -W "' + " ".join(sorted(words)) + '" -- "${COMP_WORDS[COMP_CWORD]}") )\n'
            "}\n"
            "complete -o nospace -F _fedsplit_complete fedsplit")
