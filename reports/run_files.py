"""What every report folder holds besides its tables: the input workbook and the resolved configuration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from reports.export import ReportFolder


def default_out(label: str) -> Path:
    """results/<label>-<timestamp>, the report folder when `out` is not given."""
    return Path("results") / f"{label}-{datetime.now():%Y%m%d-%H%M%S}"


def write_run_files(report: ReportFolder, cfg: DictConfig, data_path: Path, out: Path) -> None:
    """A copy of the input workbook and the resolved configuration, beside every report."""
    report.copy_in(data_path, f"input/{data_path.name}")
    resolved = OmegaConf.merge(cfg, {"data": str(data_path.resolve()), "out": str(out.resolve())})
    report.file("config.yaml").write_text(OmegaConf.to_yaml(resolved))
