"""The random-number state one process keeps in a checkpoint, so that a resumed run draws what an
uninterrupted one would have drawn: torch's CPU generator, the CUDA generator of the process's
device, and the global generators of ``random`` and NumPy (simclip draws from neither, but a
user's dataset or objective may). The objectives' own augmentation generators are saved with the
objective (``Objective.state_dict``).

Every entry is a tensor or a plain container, so the checkpoint still loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture(device: torch.device) -> dict[str, Any]:
    """This process's generator states (``device``: the one whose CUDA generator is included)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore(states: list[dict[str, Any]] | torch.Tensor, rank: int, device: torch.device) -> None:
    """Set the generators of process ``rank`` from ``states``, the list of every rank's
    :func:`capture` (or torch's CPU state alone, which older checkpoints hold for all ranks)."""
    if isinstance(states, torch.Tensor):
        torch.set_rng_state(states)
        return
    state = states[rank]
    torch.set_rng_state(state["torch"])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


__all__ = ["capture", "restore"]
