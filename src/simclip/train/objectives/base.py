"""What every objective shares: a seeded augmentation stream saved with checkpoints, and the call
``loss(model, embed(model, inputs(batch)))``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class SeededObjective:
    """Base of the per-method objectives. Subclasses implement ``inputs``, ``embed`` and ``loss``
    (see :class:`~simclip.train.step.Objective`) and draw their randomness from ``self.generator``."""

    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.loss(model, self.embed(model, self.inputs(batch)))  # type: ignore[attr-defined,no-any-return]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
