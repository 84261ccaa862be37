"""Fitting decoded images to the one square size a dataset stores.

Decoding itself (formats, size limit, EXIF orientation, 16-bit, transparency, reduced-size JPEG
decoding) is :mod:`simclip.imageio`'s, shared with shards, the command line and the service.
:func:`decode_square` is the path every image file and shard sample takes into a dataset.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from simclip.imageio import ImageDecodeError, Source, decode_array, decode_reduced, image_size

__all__ = ["ImageDecodeError", "choose_size", "decode_array", "decode_square", "fit_square", "image_size"]


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


def decode_square(source: Source, size: int, channels: int = 3, name: str | None = None) -> np.ndarray:
    """Decode an image file or bytes to uint8 ``[size, size, channels]`` (:func:`fit_square`).

    A JPEG at least twice ``size`` on its shorter side is decoded at a reduced scale first
    (``min_side=size``: DCT scaling, several times faster), and the centre square is resampled
    from it on the full image's pixel grid; the result differs from fitting the full decode by a
    few grey levels on average (``tests/data/test_decode_square.py`` states the bound).

    Raises:
        ImageDecodeError: the source is not an acceptable image.
    """
    reduced = decode_reduced(source, channels, name=name, min_side=size)
    return fit_square(reduced.pixels, size, scale=reduced.scale, full_size=reduced.full_size)


def fit_square(image: np.ndarray, size: int, *, scale: int = 1,
               full_size: tuple[int, int] | None = None) -> np.ndarray:
    """Resize uint8 ``[H, W, C]`` so the shorter side is ``size`` (bicubic, antialiased), then
    centre-crop to ``[size, size, C]``.

    Only the centre square is resampled (PIL's ``box``, in the source's fractional coordinates of
    the crop that resizing the whole image would leave), so the work is that of the square, not
    of the whole image; the pixels equal resize-then-crop up to rounding (one grey level).
    ``image`` may be a decode at ``1/scale`` of an image of ``full_size`` (``imageio.Reduced``):
    the crop is then placed as on the full image.
    """
    height, width, channels = image.shape
    full_w, full_h = full_size or (width, height)
    if (height, width) == (size, size) and scale == 1:
        return image
    ratio = size / min(full_w, full_h)
    new_w, new_h = max(size, round(full_w * ratio)), max(size, round(full_h * ratio))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
    if ratio > 1:  # enlarging (small images only): PIL's box path rounds up to 5 levels differently
        pil = pil.resize((new_w, new_h), Image.Resampling.BICUBIC)
        out = np.asarray(pil.crop((left, top, left + size, top + size)))
        return out.reshape(size, size, channels)
    sx, sy = full_w / new_w / scale, full_h / new_h / scale  # source pixels per resized pixel
    box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
    out = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC, box=box))
    return out.reshape(size, size, channels)
