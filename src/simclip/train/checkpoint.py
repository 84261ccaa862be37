"""Atomic checkpoints: a run can be killed at any instant and still resume from the last complete one.

Layout of ``RUN/checkpoints/``::

    step-00000200.safetensors   model weights (safetensors: loading runs no pickled code)
    step-00000200.state.pt      optimiser, step, epoch, RNG states (tensors and plain containers only,
                                loaded with ``weights_only=True``)
    latest.json                 {"step": 200} — written last, so it only ever names a complete pair

Every file is written to a temporary name, flushed to disk and renamed over its final name.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from simclip.errors import SimclipError

_STEP = re.compile(r"^step-(\d{8})\.safetensors$")
_STEP_FILE = re.compile(r"^step-(\d{8})\.(safetensors|state\.pt)$")


class CheckpointError(SimclipError, RuntimeError):
    """No usable checkpoint, or a checkpoint that does not fit the model; the message says which."""


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            write(tmp)
        except (SafetensorError, RuntimeError) as err:
            # safetensors and torch.save report a full disk (ENOSPC, EFBIG) as their own errors
            raise OSError(f"cannot write {path.name}: {err}") from None
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _paths(ckpt_dir: Path, step: int) -> tuple[Path, Path]:
    return ckpt_dir / f"step-{step:08d}.safetensors", ckpt_dir / f"step-{step:08d}.state.pt"


def save_checkpoint(run_dir: str | Path, step: int, model: torch.nn.Module, state: dict[str, Any],
                    keep: int = 2) -> Path:
    """Write weights and training state for ``step``, point ``latest.json`` at them, and delete all
    but the newest ``keep`` checkpoints. Returns the weights path."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    weights_path, state_path = _paths(ckpt_dir, step)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic_write(weights_path, lambda tmp: save_file(tensors, tmp))
    _atomic_write(state_path, lambda tmp: torch.save(state, tmp))
    _atomic_write(ckpt_dir / "latest.json",
                  lambda tmp: Path(tmp).write_text(json.dumps({"step": step}) + "\n"))
    # Steps past this one belong to a branch the run left: it resumed from an older checkpoint
    # because the newest was unreadable, and keeping that one instead of this would lose the run.
    kept = set([s for s in list_checkpoints(run_dir) if s <= step][-keep:])
    for p in ckpt_dir.iterdir():  # older checkpoints, and halves of pairs a killed process left
        m = _STEP_FILE.match(p.name)
        if m and int(m.group(1)) not in kept:
            p.unlink(missing_ok=True)
    for stale in ckpt_dir.glob(".*.tmp"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    return weights_path


def list_checkpoints(run_dir: str | Path) -> list[int]:
    """Steps that have both files on disk, ascending."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        return []
    steps = [int(m.group(1)) for p in ckpt_dir.iterdir() if (m := _STEP.match(p.name))]
    return sorted(s for s in steps if _paths(ckpt_dir, s)[1].exists())


def load_checkpoint(run_dir: str | Path, step: int | None = None) -> tuple[dict[str, torch.Tensor], dict, int]:
    """Weights, training state and step of the newest readable checkpoint (or of ``step``).

    A damaged newest checkpoint (e.g. a disk that filled up) falls back to the one before it.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    candidates = [step] if step is not None else list_checkpoints(run_dir)[::-1]
    if not candidates:
        raise CheckpointError(f"no checkpoint in {ckpt_dir}")
    errors = []
    for s in candidates:
        weights_path, state_path = _paths(ckpt_dir, s)
        try:
            weights = load_file(str(weights_path))
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            return weights, state, s
        except Exception as err:  # noqa: BLE001 — damaged bytes fail in parser-specific ways
            # (pickle alone raises UnpicklingError, IndexError, KeyError or UnicodeDecodeError on
            # garbage); whatever the parser says, this checkpoint is unreadable: try the older one.
            errors.append(f"{weights_path.name}: {err}")
    raise CheckpointError(f"no readable checkpoint in {ckpt_dir}: " + "; ".join(errors))


def load_weights_into(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` with an error that lists missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(weights)) if own[k].shape != weights[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing[:20]))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected[:20]))
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes[:20]))
        raise CheckpointError(f"{source} does not fit the model — " + " | ".join(parts))
    model.load_state_dict(weights)
