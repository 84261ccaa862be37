"""Experiment tracking backends by name, for ``--logger`` / ``TrainConfig.loggers``.

``jsonl`` (``RUN/metrics.jsonl``) is always written, whatever is asked for: resuming and the
training curves read it. The default (``loggers`` None) adds ``tensorboard`` when TensorBoard is
installed; a list names exactly the trackers wanted beside ``jsonl``, and asking for one whose
package is missing is an error naming the extra to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simclip.errors import MissingDependencyError, UnknownNameError
from simclip.train.loggers.base import Logger, TrackerError, finite_numbers, flat_params

# name -> (module that must be importable, simclip extra that installs it)
LOGGERS: dict[str, tuple[str | None, str | None]] = {
    "jsonl": (None, None), "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def logger_names(requested: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The backends a run writes: ``jsonl`` first, then ``requested`` (None: ``tensorboard`` when
    it is installed). Unknown names raise :class:`~simclip.errors.UnknownNameError` listing the
    valid ones, a missing package :class:`~simclip.errors.MissingDependencyError` naming the extra."""
    if requested is None:
        return ("jsonl", "tensorboard") if installed("tensorboard") else ("jsonl",)
    if isinstance(requested, str) or not all(isinstance(n, str) for n in requested):
        raise UnknownNameError(f"loggers must be a list of names, got {requested!r}")
    unknown = [n for n in requested if n not in LOGGERS]
    if unknown:
        raise UnknownNameError(f"unknown logger {', '.join(map(repr, unknown))} (--logger); "
                               f"valid: {', '.join(LOGGERS)}")
    names = tuple(dict.fromkeys(("jsonl", *requested)))
    for name in names:
        module, extra = LOGGERS[name]
        if module is not None and not installed(module):
            raise MissingDependencyError(f"--logger {name} needs the {module} package: "
                                         f"pip install 'simclip[{extra}]'")
    return names


def create_logger(name: str, run_dir: Path, resume_id: str | None = None,
                  resume_step: int | None = None) -> Logger:
    """The backend ``name`` recording the run in ``run_dir`` (``resume_id``: the id of the tracked
    run to continue, for the trackers that have one; ``resume_step``: the checkpoint step a resumed
    run continues from, None for a new run)."""
    if name == "jsonl":  # resuming cuts metrics.jsonl back to resume_step (train.restart)
        from simclip.train.loggers.jsonl import JsonlLogger
        return JsonlLogger(run_dir)
    if name == "tensorboard":
        from simclip.train.loggers.tensorboard import TensorBoardLogger
        return TensorBoardLogger(run_dir, resume_step)
    if name == "wandb":
        from simclip.train.loggers.wandb import WandbLogger
        return WandbLogger(run_dir, resume_id)
    if name == "mlflow":
        from simclip.train.loggers.mlflow import MlflowLogger
        return MlflowLogger(run_dir, resume_id)
    raise UnknownNameError(f"unknown logger {name!r}; valid: {', '.join(LOGGERS)}")


__all__ = ["LOGGERS", "Logger", "TrackerError", "create_logger", "finite_numbers", "flat_params",
           "installed", "logger_names"]
