"""Resampling learned positional embeddings for another input resolution.

As OpenCLIP/timm do for ViTs fine-tuned at a new resolution (Dosovitskiy et al. 2021, sec. 3.2): the
embedding of the extra leading token (class token, or the mean token of ResNet attention pooling) is
kept, the ``g x g`` grid is interpolated bicubically to the new side.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def resize_grid_embedding(embedding: torch.Tensor, new_grid: int) -> torch.Tensor:
    """``[1 + g*g, D] -> [1 + new_grid*new_grid, D]``; the first row is kept as is.

    Interpolation runs in float32 (bicubic, ``align_corners=False``, antialiased) and returns the input
    dtype.
    """
    if embedding.dim() != 2:
        raise ValueError(f"embedding must be [1 + g*g, D], got shape {tuple(embedding.shape)}")
    if not isinstance(new_grid, int) or new_grid < 1:
        raise ValueError(f"new_grid must be a positive integer, got {new_grid!r}")
    grid = math.isqrt(embedding.shape[0] - 1)
    if grid * grid != embedding.shape[0] - 1:
        raise ValueError(f"embedding has {embedding.shape[0] - 1} grid rows, not a square grid")
    if grid == new_grid:
        return embedding.clone()
    lead, rest = embedding[:1], embedding[1:]
    rest = rest.float().reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    # antialias matters only when shrinking the grid; OpenCLIP and timm use it too
    rest = F.interpolate(rest, size=(new_grid, new_grid), mode="bicubic", align_corners=False,
                         antialias=True)
    rest = rest.permute(0, 2, 3, 1).reshape(new_grid * new_grid, -1).to(embedding.dtype)
    return torch.cat([lead, rest], dim=0)
