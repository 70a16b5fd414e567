"""What every report folder holds besides its tables: the input workbook, the effective configuration and the
run log; and, when a solve fails, the diagnostics file written beside the folder the report would have had."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from reports.files.destination import DIAGNOSTICS_SUFFIX
from reports.export import ReportFolder


def default_out(label: str) -> Path:
    """results/<label>-<timestamp>, relative to the folder the command runs in, when `out` is not given."""
    return Path("results") / f"{label}-{datetime.now():%Y%m%d-%H%M%S}"


@dataclass
class RunFiles:
    """The files beside a report's tables, held until the report is written."""

    settings: object  # the run's typed configuration (a dataclass), for config.yaml
    input_name: str  # file name of the input copy, under input/
    copy_input: Callable[[Path], None]  # writes the input workbook (a copy, or the notebook's tables) there
    data: str  # config.yaml's `data`: where the input came from
    effective: dict[str, object] = field(default_factory=dict)  # dotted key -> value used for keys left null
    log_lines: list[str] = field(default_factory=list)  # run.log


def write_run_files(report: ReportFolder, files: RunFiles, out: Path) -> None:
    """The input copy, `config.yaml` with the values the run used (`effective`, for keys left null to mean
    "the workbook's") and `run.log`."""
    files.copy_input(report.file(f"input/{files.input_name}"))
    resolved = OmegaConf.merge(OmegaConf.structured(files.settings), {"data": files.data, "out": str(out.resolve())})
    for key, value in files.effective.items():
        OmegaConf.update(resolved, key, value, merge=False)
    report.file("config.yaml").write_text(OmegaConf.to_yaml(resolved))
    report.file("run.log").write_text("".join(f"{line}\n" for line in files.log_lines))


def write_diagnostics(out: Path, message: str, log_lines: list[str]) -> Path | None:
    """`<out>.failed-diagnostics.log` beside the report that was not written: the error and every solve so far.
    Never a partial report; None when even this file cannot be written."""
    path = Path(f"{out}{DIAGNOSTICS_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"fedsplit run failed; no report was written to {out}.\n\n{message}\n\n"
                        f"Run log (every solve with its status):\n" + "".join(f"{line}\n" for line in log_lines))
    except OSError:
        return None
    return path
