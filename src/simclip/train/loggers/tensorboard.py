"""TensorBoard event files in ``RUN/tensorboard/`` (the ``tensorboard`` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simclip.train.loggers.base import finite_numbers


class TensorBoardLogger:
    """Scalars per step, the config as text, images, and the final metrics as ``final/*`` scalars
    at the last step; ``tensorboard --logdir RUN/tensorboard`` shows them. A run resumed from the
    checkpoint of ``resume_step`` starts its event file with TensorBoard's purge marker: readers
    drop what earlier files hold after that step (the failed attempt's rows, trained again)."""

    name = "tensorboard"
    run_id: str | None = None

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # events at steps >= purge_step in earlier files are hidden; resume_step itself was kept
        purge = None if resume_step is None else resume_step + 1
        self._writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        self._config_step = purge or 0  # a resumed run's config (more epochs?) is a new entry

    def log_params(self, params: dict[str, Any]) -> None:
        # TensorBoard renders text as Markdown: indented by four spaces it is shown verbatim
        text = json.dumps(params, indent=2, default=str)
        self._writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), self._config_step)

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        for key, value in finite_numbers(metrics).items():
            self._writer.add_scalar(key, value, step)

    def log_image(self, key: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self._writer.add_image(key, pixels, step, dataformats="HWC")

    def log_summary(self, metrics: dict[str, Any], step: int) -> None:
        for key, value in finite_numbers(metrics).items():
            self._writer.add_scalar(f"final/{key}", value, step)

    def close(self, failed: bool = False) -> None:
        self._writer.close()
