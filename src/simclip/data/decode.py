"""Fitting decoded images to the one square size a dataset stores.

Decoding itself (formats, size limit, EXIF orientation, 16-bit, transparency, reduced-size JPEG
decoding) is :mod:`simclip.imageio`'s, shared with shards, the command line and the service.
:func:`decode_square` is the path every image file and shard sample takes into a dataset.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
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
    reduced = decode_reduced(source, channels, name=name, min_side=size, fast_jpeg=True)
    return fit_square(reduced.pixels, size, scale=reduced.scale, full_size=reduced.full_size)


def fit_square(image: np.ndarray, size: int, *, scale: int = 1,
               full_size: tuple[int, int] | None = None) -> np.ndarray:
    """Resize uint8 ``[H, W, C]`` so the shorter side is ``size`` (bicubic, antialiased), then
    centre-crop to ``[size, size, C]``.

    Shrinking runs torch's uint8 antialiased bicubic resampling (PIL's filter, vectorised), whose
    pixels equal PIL's resize-then-crop within 1 grey level in ``tests/data/test_decode_square.py``
    (at most 2 on the benchmark's photos).
    ``image`` may be a decode at ``1/scale`` of an image of ``full_size`` (``imageio.Reduced``):
    it is resampled with the factor that maps it onto the full image's resized grid, so the crop
    is placed as on the full image.
    """
    height, width, channels = image.shape
    full_w, full_h = full_size or (width, height)
    if (height, width) == (size, size) and scale == 1:
        return image
    ratio = size / min(full_w, full_h)
    new_w, new_h = max(size, round(full_w * ratio)), max(size, round(full_h * ratio))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    if ratio > 1:  # enlarging (small images only)
        pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
        pil = pil.resize((new_w, new_h), Image.Resampling.BICUBIC)
        out = np.asarray(pil.crop((left, top, left + size, top + size)))
        return out.reshape(size, size, channels)
    # [1, C, H, W] with channels-last strides: the layout of torch's fast uint8 kernels, which then
    # resize into channels-last too (a batch dim added after the permute would hide the layout),
    # so the crop below is already [H, W, C] in memory
    with warnings.catch_warnings():  # decoded arrays are read-only views of PIL's buffer; only read here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        pixels = torch.from_numpy(np.ascontiguousarray(image)).unsqueeze(0).permute(0, 3, 1, 2)
    if scale == 1:
        resized = F.interpolate(pixels, size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False)
    else:
        # A reduced pixel is ``scale`` full ones, which resizing maps to new/full output pixels:
        # that factor (not the ratio of integer sizes) keeps the crop where it is on the full image.
        factors = (new_h / full_h * scale, new_w / full_w * scale)
        resized = F.interpolate(pixels, scale_factor=factors, mode="bicubic", antialias=True,
                                align_corners=False, recompute_scale_factor=False)
        if resized.shape[2] < top + size or resized.shape[3] < left + size:  # floor() fell short
            resized = F.pad(resized.float(), (0, left + size - resized.shape[3], 0, top + size - resized.shape[2]),
                            mode="replicate").to(torch.uint8)
    return resized[0, :, top:top + size, left:left + size].permute(1, 2, 0).numpy().copy()
