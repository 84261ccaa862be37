"""Resizing in-memory uint8 image tensors to a square side (bilinear, antialiased)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Resizing converts to float32; chunks keep that copy small (MNIST at 224 px would be 12 GB at once).
_CHUNK = 1024


def resize_square(images: Tensor, size: int) -> Tensor:
    """Resize uint8 ``[N, C, H, W]`` images to uint8 ``[N, C, size, size]``.

    Bilinear with ``antialias=True``, so downsampling averages rather than aliases; values are
    rounded back to 0..255. Returns ``images`` itself when it already has that size.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for i in range(0, n, _CHUNK):
        x = images[i:i + _CHUNK].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[i:i + _CHUNK] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out
