"""Vision Transformers (Dosovitskiy et al. 2021) sized for small images: patch size and image size
are options, the class-token output is the feature."""

from __future__ import annotations

import torch
from torch import nn

from simclip.models.registry import register_encoder


class ViTEncoder(nn.Module):
    """Patch embedding + class token + learned positions + pre-LN Transformer + final LayerNorm.

    Input ``[B, C, image_size, image_size]``, output the class token ``[B, width]``.
    """

    def __init__(self, in_channels: int, image_size: int, patch_size: int, width: int,
                 depth: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch = nn.Conv2d(in_channels, width, patch_size, patch_size)
        self.image_size = image_size
        n = (image_size // patch_size) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, n + 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, int(width * mlp_ratio), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.num_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"ViT built for {self.image_size}x{self.image_size} images, "
                             f"got {tuple(x.shape[-2:])}")
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1) + self.pos
        return self.norm(self.blocks(tokens)[:, 0])


@register_encoder("vit-tiny")
def vit_tiny(in_channels: int = 3, image_size: int = 32, patch_size: int = 4) -> ViTEncoder:
    return ViTEncoder(in_channels, image_size, patch_size, width=192, depth=12, heads=3)


@register_encoder("vit-small")
def vit_small(in_channels: int = 3, image_size: int = 32, patch_size: int = 4) -> ViTEncoder:
    return ViTEncoder(in_channels, image_size, patch_size, width=384, depth=12, heads=6)
