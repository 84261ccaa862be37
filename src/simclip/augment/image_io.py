"""Reading one image file into a ``uint8`` tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L"}
# Gray files whose pixels are not 8-bit: PIL's "L" conversion would clip them to 255.
_WIDE_GRAY_MODES = _SIXTEEN_BIT_MODES | {"I", "F"}
_GRAY_MODES = {"1", "L", "LA"} | _WIDE_GRAY_MODES


def _wide_gray_to_uint8(image: Image.Image) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if image.mode in _SIXTEEN_BIT_MODES:
        scaled = array / 257.0  # 65535 -> 255
    else:
        # 32-bit int / float files have no fixed white level: stretch their own range.
        lo, hi = float(array.min()), float(array.max())
        scaled = (array - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def load_image(path: str | Path) -> Tensor:
    """Read an image file as ``uint8`` ``Tensor[C, H, W]``: ``C = 1`` for gray files, else 3.

    Alpha is dropped and palettes are expanded. 16-bit gray is scaled by 255/65535; 32-bit int
    and float gray files are stretched from their own min..max to 0..255.

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a file.
        ValueError: the file is not an image PIL can read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in _WIDE_GRAY_MODES:
                pixels = _wide_gray_to_uint8(image)
            else:
                mode = "L" if image.mode in _GRAY_MODES else "RGB"
                pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image file {path}: {err}") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy())
