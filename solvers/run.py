"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]`.

It only resolves the configuration (Hydra's override syntax) and dispatches to
the model's pipeline (solvers/fedsllm_pipeline.py, solvers/card_pipeline.py),
which runs read -> validate -> build -> solve -> certify -> report. `--help`
prints the resolved configuration. Exit codes: 0 done, 2 bad input or
configuration, 3 a solve failed. Nothing is written unless the whole run succeeds.
"""

from __future__ import annotations

import sys

from hydra import compose, initialize
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.issues import InputError
from reports.export import ReportExistsError
from solvers.card_pipeline import run_card
from solvers.config import ConfigError, register_configs
from solvers.fedsllm_pipeline import run_fedsllm
from solvers.ipopt import SolveError, SolverUnavailableError

EXIT_OK, EXIT_INPUT, EXIT_SOLVE = 0, 2, 3
PIPELINES = {"fedsllm": run_fedsllm, "card": run_card}


def compose_config(overrides: list[str]) -> DictConfig:
    register_configs()
    try:
        with initialize(version_base=None, config_path=None):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        # Hydra wraps OmegaConf's type errors; the reason is in the chained cause.
        reasons = [str(error)]
        if error.__cause__ is not None:
            reasons.append(str(error.__cause__).splitlines()[0])
        raise ConfigError(f"bad command-line override: {': '.join(reasons)}") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    show_help = "--help" in argv or "-h" in argv
    argv = [a for a in argv if a not in ("--help", "-h")]
    try:
        cfg = compose_config(argv)
        if show_help:
            print(__doc__)
            print(f"Models: {', '.join(PIPELINES)}. Resolved configuration:\n")
            print(OmegaConf.to_yaml(cfg))
            return EXIT_OK
        for line in PIPELINES[cfg.model_name](cfg):
            print(line)
        return EXIT_OK
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was written. Fix the workbook and run again.", file=sys.stderr)
        return EXIT_INPUT
    except (ConfigError, ReportExistsError, SolverUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except SolveError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return EXIT_SOLVE


if __name__ == "__main__":
    sys.exit(main())
