"""Additive Gaussian noise, one of the operators of SimCLR's Figure 4 ablation (panel h)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from simclip.augment.base import RandomOp


class GaussianNoise(RandomOp):
    """Add i.i.d. ``N(0, std^2)`` noise to every pixel of a sample, then clamp to ``[0, 1]``.

    The noise is drawn on the CPU from the call's generator (so a seed gives the same images on
    any device) and copied to the images' device. Clamping shrinks the spread of pixels near 0
    or 1, so the measured std there is below ``std``.

    Args:
        std: noise standard deviation in ``[0, 1]`` pixel units, ``>= 0``.
        p: probability per sample.
    """

    def __init__(self, std: float = 0.1, p: float = 1.0) -> None:
        super().__init__(p)
        self.std = float(std)
        if not self.std >= 0.0:
            raise ValueError(f"std must be >= 0, got {std!r}")

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        return {"noise": torch.randn(tuple(shape), generator=generator)}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return params["noise"].mul_(self.std).add_(x).clamp_(0.0, 1.0)

    def repr_fields(self) -> dict[str, Any]:
        return {"std": self.std, "p": self.p}
