"""CLIP's ViT image tower (Dosovitskiy et al. 2021; Radford et al. 2021).

``[B, C, H, W] -> [B, E]``: patchify (``conv1``), prepend ``class_embedding``, add
``positional_embedding``, ``ln_pre``, transformer, ``ln_post`` on the class token, then ``@ proj``.
"""

from __future__ import annotations

import torch
from torch import nn

from simclip.clip.pos_embed import resize_grid_embedding
from simclip.clip.transformer import Transformer


class VisionTransformer(nn.Module):
    """ViT with a class token; ``image_size // patch_size`` patches a side."""

    def __init__(self, image_size: int, patch_size: int, width: int, layers: int, heads: int,
                 output_dim: int, mlp_ratio: float = 4.0, quick_gelu: bool = False,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        grid = image_size // patch_size
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, mlp_ratio, quick_gelu)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.conv1(images.to(self.conv1.weight.dtype))  # [B, D, g, g]
        x = x.flatten(2).transpose(1, 2)  # [B, g*g, D]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        cls_out: torch.Tensor = self.ln_post(x[:, 0])
        return cls_out @ self.proj

    def set_image_size(self, image_size: int) -> None:
        """Resample the positional embedding for ``image_size`` (bicubic on the patch grid)."""
        if image_size % self.patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of the patch size "
                             f"({self.patch_size})")
        resized = resize_grid_embedding(self.positional_embedding.data, image_size // self.patch_size)
        self.positional_embedding = nn.Parameter(resized)
        self.image_size = image_size
