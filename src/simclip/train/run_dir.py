"""A run's folder: claiming it for a new run, and writing its ``config.json``.

A run writes ``config.json``, ``checkpoints/``, ``metrics.jsonl``, ``tensorboard/`` and
``curves.png`` into one folder (``TrainConfig.out``); :func:`train` claims it before the first step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from simclip.train.checkpoint import list_checkpoints
from simclip.train.config import TrainConfig
from simclip.train.errors import TrainingError

# What a run writes into its folder (config.json is rewritten whole by every run).
RUN_OUTPUTS = ("checkpoints", "metrics.jsonl", "tensorboard", "curves.png")


def claim_for_new_run(run_dir: Path, overwrite: bool) -> None:
    """A new run in a folder that holds an earlier one would overwrite its checkpoints step by
    step and append to its metrics: refuse, or with ``overwrite`` remove the old run's outputs."""
    steps = list_checkpoints(run_dir)
    metrics = run_dir / "metrics.jsonl"
    if not steps and not (metrics.is_file() and metrics.stat().st_size > 0):
        return
    if not overwrite:
        held = f"checkpoints up to step {steps[-1]}" if steps else "a metrics.jsonl"
        raise TrainingError(f"{run_dir} already holds a run ({held}); continue it with --resume {run_dir}, "
                            f"write to another --out, or pass --overwrite to replace it")
    for name in RUN_OUTPUTS:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def write_config(cfg: TrainConfig, path: Path) -> None:
    """Replace ``config.json`` whole: a disk that fills up while it is rewritten (every resume
    rewrites it) must not leave a run that cannot be resumed."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        cfg.save(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise TrainingError(f"cannot write {path}: {err}") from None


__all__ = ["RUN_OUTPUTS", "claim_for_new_run", "write_config"]
