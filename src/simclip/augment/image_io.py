"""Reading one image file into a ``uint8`` tensor, through :mod:`simclip.imageio`."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from simclip.imageio import decode_image


def load_image(path: str | Path, max_pixels: int | None = None) -> Tensor:
    """Read an image file as ``uint8`` ``Tensor[C, H, W]``: ``C = 1`` for grayscale files, else 3.

    Decoded as everywhere in simclip (:mod:`simclip.imageio`): EXIF orientation applied, 16-bit
    gray scaled by 255/65535, transparency over white, at most ``max_pixels`` pixels.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        simclip.imageio.ImageDecodeError: the file is not an image simclip accepts (the message
            names it).
    """
    return decode_image(Path(path), channels=None, max_pixels=max_pixels)
