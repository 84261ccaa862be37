"""``RUN/metrics.jsonl``: one JSON object per logged step. Always written: resuming, the training
curves and ``simclip.train.logger.read_metrics`` read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsonlLogger:
    """Appends each row of metrics to ``RUN/metrics.jsonl`` (flushed per row, so a killed run
    keeps every row but possibly a truncated last line). The config is ``RUN/config.json`` and
    the images are files of the run folder already, so parameters, images and the summary are
    not repeated here."""

    name = "jsonl"
    run_id: str | None = None

    def __init__(self, run_dir: Path) -> None:
        self._file = open(run_dir / "metrics.jsonl", "a", encoding="utf-8")

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        self._file.write(json.dumps({"step": step, **metrics}) + "\n")
        self._file.flush()

    def log_image(self, key: str, path: Path, step: int) -> None:
        pass

    def log_summary(self, metrics: dict[str, Any], step: int) -> None:
        pass

    def close(self, failed: bool = False) -> None:
        self._file.close()
