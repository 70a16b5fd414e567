"""What every report folder holds besides its tables: the input workbook, the effective configuration and the
run log; and, when a solve fails, the diagnostics file written beside the folder the report would have had."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from reports.destination import DIAGNOSTICS_SUFFIX
from reports.export import ReportFolder


def default_out(label: str) -> Path:
    """results/<label>-<timestamp>, relative to the folder the command runs in, when `out` is not given."""
    return Path("results") / f"{label}-{datetime.now():%Y%m%d-%H%M%S}"


def write_run_files(report: ReportFolder, cfg: DictConfig, data_path: Path, out: Path,
                    effective: dict[str, object], log_lines: list[str]) -> None:
    """A copy of the input workbook, `config.yaml` with the values the run used (`effective`: dotted key ->
    value, for keys left null to mean "the workbook's") and `run.log`."""
    report.copy_in(data_path, f"input/{data_path.name}")
    resolved = OmegaConf.merge(cfg, {"data": str(data_path.resolve()), "out": str(out.resolve())})
    for key, value in effective.items():
        OmegaConf.update(resolved, key, value, merge=False)
    report.file("config.yaml").write_text(OmegaConf.to_yaml(resolved))
    report.file("run.log").write_text("".join(f"{line}\n" for line in log_lines))


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
