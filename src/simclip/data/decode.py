"""Decoding image files with PIL into uint8 arrays of one channel layout and one square size.

Every PIL mode ends as RGB (``channels=3``) or L (``channels=1``, ITU-R 601-2 luma):

- 16-bit grayscale (``I;16*``, and ``I``, read as 16-bit) is scaled by 255/65535 — PIL's own
  ``convert("L")`` clips it instead, which turns most 16-bit images white;
- transparency (RGBA, LA, PA, palette or colour-key transparency) is composited over white,
  since the colour under a transparent pixel is arbitrary (often black);
- CMYK, palette, YCbCr and bilevel images go through PIL's conversions;
- the EXIF orientation is applied, as photo viewers do.

Images larger than ``PIL.Image.MAX_IMAGE_PIXELS`` are rejected as possible decompression bombs.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112
WHITE = (255, 255, 255, 255)


class ImageDecodeError(ValueError):
    """A file that is not a decodable image; the message names the file and the reason."""


def decode_image(path: Path, channels: int = 3) -> np.ndarray:
    """Decode ``path`` into uint8 ``[H, W, channels]`` (see the module docstring for the modes)."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if not _regular_file(path):
        raise ImageDecodeError(f"{path}: not a regular file (a pipe, a device or a broken link)")
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that; reject from the limit on.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _to_array(_upright(img), channels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageDecodeError(f"{path}: rejected as a possible decompression bomb, larger than "
                               f"PIL.Image.MAX_IMAGE_PIXELS={Image.MAX_IMAGE_PIXELS} ({err})") from None
    except FileNotFoundError:
        raise
    except Exception as err:  # PIL's decoders raise OSError, SyntaxError, struct.error, ...
        reason = "empty file" if Path(path).is_file() and Path(path).stat().st_size == 0 else err
        raise ImageDecodeError(f"{path}: not a decodable image ({reason})") from None


def header_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` as displayed (after EXIF rotation), read from the header only.

    None when the header cannot be read; decoding reports the reason later.
    """
    if not _regular_file(path):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if img.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS:
                    return height, width
                return width, height
    except Exception:  # unreadable headers are reported by decode_image
        return None


def _regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file, or a missing one (which opening reports as missing).
    Opening a named pipe would block for ever, so pipes, devices and broken links are refused."""
    path = Path(path)
    return path.is_file() or not (path.exists() or path.is_symlink())


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


def _upright(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block does not make the pixels wrong; keep them as stored
        return img


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img).astype(np.float64)
        img = Image.fromarray(np.rint(np.clip(wide, 0, 65535) * (255 / 65535)).astype(np.uint8))
    elif img.mode == "F":
        img = Image.fromarray(np.rint(np.clip(np.asarray(img), 0, 255)).astype(np.uint8))
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        img = Image.alpha_composite(Image.new("RGBA", img.size, WHITE), img.convert("RGBA"))
    img = img.convert("L" if channels == 1 else "RGB")
    return np.asarray(img, dtype=np.uint8).reshape(img.height, img.width, channels)
