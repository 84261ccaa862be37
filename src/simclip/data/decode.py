"""Fitting decoded images to the one square size a dataset stores.

Decoding itself (formats, size limit, EXIF orientation, 16-bit, transparency) is
:mod:`simclip.imageio`'s, shared with shards, the command line and the service.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from simclip.imageio import ImageDecodeError, decode_array, image_size

__all__ = ["ImageDecodeError", "choose_size", "decode_array", "fit_square", "image_size"]


def choose_size(sizes: list[tuple[int, int] | None], requested: int | None, default: int = 32) -> int:
    """The square side to store images at: ``requested``, else the images' own side when they
    all share one square size, else ``default``."""
    if requested is not None:
        return requested
    known = {s for s in sizes if s is not None}
    if len(known) == 1:
        width, height = known.pop()
        if width == height:
            return width
    return default


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 ``[H, W, C]`` so the shorter side is ``size`` (bicubic, antialiased), then
    centre-crop to ``[size, size, C]``."""
    height, width, channels = image.shape
    if (height, width) == (size, size):
        return image
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
    pil = pil.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    out = np.asarray(pil.crop((left, top, left + size, top + size)))
    return out.reshape(size, size, channels)
