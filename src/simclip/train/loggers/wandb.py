"""Weights & Biases (the ``wandb`` extra). wandb's own settings apply: ``WANDB_PROJECT`` (default
``simclip``), ``WANDB_ENTITY``, ``WANDB_MODE=offline`` to record without an account or network,
``WANDB_DIR`` (default: the run folder, under ``RUN/wandb/``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from simclip.train.loggers.base import TrackerError, finite_numbers


class WandbLogger:
    """One wandb run per simclip run, named after the run folder; a resumed simclip run continues
    the wandb run it started (``resume_id``), from the step that run reached. Metrics per step, the
    config, images, and the final metrics in the run summary as ``final/*``."""

    name = "wandb"

    def __init__(self, run_dir: Path, resume_id: str | None = None) -> None:
        import wandb

        self._wandb = wandb
        try:
            self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", "simclip"), name=run_dir.name,
                                   dir=os.environ.get("WANDB_DIR") or str(run_dir), id=resume_id,
                                   resume="allow" if resume_id else None, reinit="create_new")
        except wandb.errors.Error as err:
            raise TrackerError(f"wandb could not start a run: {err} (WANDB_MODE=offline records "
                               "without an account)") from None
        self.run_id: str = self._run.id
        # a resumed wandb run refuses rows below the step it holds, with a warning each: the rows of
        # the steps trained again after the checkpoint are left out here instead (they hold the
        # values the first attempt logged, as resuming is exact)
        self._next_step = int(self._run.starting_step) if resume_id else 0

    def log_params(self, params: dict[str, Any]) -> None:
        # a resumed run may have been given more epochs: its config changes, it is not an error
        self._run.config.update(params, allow_val_change=True)

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        if step >= self._next_step:
            self._run.log(finite_numbers(metrics), step=step)

    def log_image(self, key: str, path: Path, step: int) -> None:
        self._run.log({key: self._wandb.Image(str(path))}, step=step)

    def log_summary(self, metrics: dict[str, Any], step: int) -> None:
        self._run.summary.update({f"final/{k}": v for k, v in metrics.items()})

    def close(self, failed: bool = False) -> None:
        self._run.finish(exit_code=1 if failed else 0)
