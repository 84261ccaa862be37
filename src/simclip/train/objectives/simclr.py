"""SimCLR's objective (Chen et al. 2020): two (or V) random views per image, NT-Xent on g(f(x))."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from simclip.losses import nt_xent


class SimCLRObjective:
    """Augment each image of a batch ``n_views`` times with independent random parameters, embed all
    ``V*B`` views in one forward pass, and return ``nt_xent(z [V, B, D], temperature)``.

    ``augment`` maps uint8/float ``[B, C, H, W]`` to float ``[B, C, S, S]`` in [0, 1] with a
    ``generator`` keyword; its random stream is seeded by ``seed`` and saved with checkpoints.
    """

    def __init__(self, augment: Callable[..., torch.Tensor], temperature: float = 0.5,
                 n_views: int = 2, seed: int = 0, channels_last: bool = False) -> None:
        if n_views < 2:
            raise ValueError(f"n_views must be at least 2, got {n_views}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.augment = augment
        self.temperature = temperature
        self.n_views = n_views
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)

    def views(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[V*B, C, S, S]`` float views, computed outside autocast."""
        with torch.autocast(images.device.type, enabled=False):
            out = torch.cat([self.augment(images, generator=self.generator) for _ in range(self.n_views)])
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def __call__(self, model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict[str, Any]]:
        images = batch[0]
        z = model(self.views(images)).float()
        z = z.view(self.n_views, len(images), -1)
        loss = nt_xent(z, temperature=self.temperature)
        return loss, {"loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
