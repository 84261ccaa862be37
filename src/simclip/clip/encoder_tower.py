"""An image tower built from any encoder of simclip's SimCLR registry plus a linear projection.

This lets a CLIP model use the same backbones as SimCLR (e.g. ``small-cnn`` for 28x28 one-channel
images), so the two objectives can be compared on one encoder.
"""

from __future__ import annotations

import torch
from torch import nn


class EncoderTower(nn.Module):
    """``[B, C, H, W] -> encoder -> [B, F] -> proj -> [B, E]`` (projection without bias)."""

    def __init__(self, encoder: str, output_dim: int, in_channels: int = 3, image_size: int = 224,
                 encoder_kwargs: dict | None = None) -> None:
        super().__init__()
        from simclip.models import create_encoder
        from simclip.models.encoders.timm_encoder import is_timm_name

        self.image_size, self.in_channels = image_size, in_channels
        kwargs = dict(encoder_kwargs or {})
        if is_timm_name(encoder):  # timm ViTs are built for the tower's image size
            kwargs.setdefault("image_size", image_size)
        self.encoder = create_encoder(encoder, in_channels=in_channels, **kwargs)
        num_features = getattr(self.encoder, "num_features", None)
        if not isinstance(num_features, int):
            raise ValueError(f"encoder {encoder!r} does not expose an integer num_features")
        self.proj = nn.Linear(num_features, output_dim, bias=False)
        nn.init.normal_(self.proj.weight, std=num_features ** -0.5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        embeddings: torch.Tensor = self.proj(self.encoder(images))
        return embeddings

    def set_image_size(self, image_size: int) -> None:
        """Record a new input size; registry encoders pool globally, so nothing is resampled."""
        self.image_size = image_size
