"""Decoding one image — file or bytes — into uint8 pixels, the same way everywhere.

Datasets, shards, ``simclip augment --image``, ``zeroshot --image``, ``plot topk``, the index
builder and the web service all decode through :func:`decode_array` (``[H, W, C]`` numpy) or
:func:`decode_image` (``[C, H, W]`` tensor), so one file gives one tensor whichever way it comes in:

- only the formats in :data:`ALLOWED_FORMATS` are opened (no EPS, which runs Ghostscript, ...);
- an image above ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`) is refused from its header,
  before any pixel is decoded: a PNG of a few KB can claim 50,000 x 50,000 pixels;
- the EXIF orientation is applied, as photo viewers do;
- 16-bit (and 32-bit integer) grayscale is scaled by 255/65535 (PIL's ``convert("L")`` clips it,
  turning most 16-bit images white), float grayscale is clipped to 0..255;
- transparency (RGBA, LA, PA, palette or colour-key) is composited over white, since the colour
  under a transparent pixel is arbitrary (often black);
- CMYK, YCbCr, palette and bilevel images go through PIL's conversions to RGB or L (ITU-R 601-2
  luma); ``channels=None`` keeps grayscale files at one channel and makes every other file RGB;
- ``min_side=S`` lets a JPEG be decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling,
  PIL's ``draft``) when both sides stay at least ``S``: a caller that shrinks the image to ``S``
  anyway skips most of the decoding work. The result is the smaller image, close to (not equal
  to) a box-filtered downscale of the full decode; other formats are decoded at full size.

Errors: :class:`ImageDecodeError` (a :class:`~simclip.errors.SimclipError`) names the file and the
reason; a missing file is a ``FileNotFoundError``. torch is imported only by :func:`decode_image`
and by :func:`decode_reduced` with ``fast_jpeg``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from simclip.errors import SimclipError

if TYPE_CHECKING:
    from torch import Tensor

# PIL formats that are decoded; anything else (EPS, ICNS, PSD, ...) is refused unread.
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
# 40 megapixels (8000x5000) decode to 120 MB of RGB — above the photos anyone indexes or trains on,
# below PIL's own warning threshold (89 megapixels), so PIL never gets to warn.
DEFAULT_MAX_PIXELS = 40_000_000

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_GRAY = {"1", "L", "LA", "La", "F"} | _SIXTEEN_BIT
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255, 255)

Source = bytes | str | Path


class ImageDecodeError(SimclipError, ValueError):
    """A file or bytes that are not an acceptable image (unreadable, corrupt, refused format, too
    large); the message names the file (``upload`` for bytes) and the reason."""


def decode_array(source: Source, channels: int | None = 3, *, max_pixels: int | None = None,
                 formats: Collection[str] = ALLOWED_FORMATS, name: str | None = None,
                 min_side: int | None = None) -> np.ndarray:
    """Decode ``source`` (a path, or the bytes of a file) into uint8 ``[H, W, C]``.

    Args:
        channels: 3 (RGB), 1 (luma), or None: 1 for grayscale files, else 3.
        max_pixels: refuse images with more pixels (default :data:`DEFAULT_MAX_PIXELS`).
        formats: PIL format names that are accepted.
        name: how errors name the image (default: the path, or ``upload`` for bytes).
        min_side: a JPEG may be decoded at a reduced size (1/2, 1/4, 1/8) that keeps both
            ``H`` and ``W`` at least ``min_side`` (module doc); None decodes at full size.
    """
    return decode_reduced(source, channels, max_pixels=max_pixels, formats=formats, name=name,
                          min_side=min_side).pixels


class Reduced(NamedTuple):
    """An image decoded at ``1/scale`` of its size: pixel ``i`` of ``pixels`` covers pixels
    ``scale * i .. scale * i + scale - 1`` of the full image (the last row and column partly);
    ``full_size`` is the full image's ``(width, height)`` as displayed."""

    pixels: np.ndarray
    scale: int
    full_size: tuple[int, int]


def decode_reduced(source: Source, channels: int | None = 3, *, max_pixels: int | None = None,
                   formats: Collection[str] = ALLOWED_FORMATS, name: str | None = None,
                   min_side: int | None = None, fast_jpeg: bool = False) -> Reduced:
    """:func:`decode_array` with the scale it decoded at and the full size, which a caller that
    resamples needs in order to place the full image's pixel grid on the reduced one.

    With ``fast_jpeg``, a baseline JPEG decoded at full size, stored upright, whose colour mode is
    the one asked for (RGB for 3 channels, gray for 1), is decoded by ``torchvision.io.decode_jpeg``
    (the same libjpeg-turbo, the same pixels, without PIL's per-image overhead; this imports
    torch). Anything it refuses goes through PIL, which decides what is an error.
    """
    if channels not in (1, 3, None):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    if min_side is not None and (isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1):
        raise ValueError(f"min_side must be None or a positive int, got {min_side!r}")
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    name = name or ("upload" if isinstance(source, bytes) else str(source))
    with _opened(source, name, formats, limit) as img:
        width, height = img.size
        if width * height > limit:
            raise ImageDecodeError(f"{name}: {width}x{height} pixels exceeds the limit of {limit:,} "
                                   f"pixels")
        scale = 1
        if min_side is not None and img.format in ("JPEG", "MPO"):
            # a square request keeps both sides >= min_side whichever way EXIF later rotates them
            drafted = img.draft(img.mode, (min_side, min_side))
            if drafted is not None:  # its box is the full image in reduced pixels
                scale = round(width / drafted[1][2])
        if fast_jpeg and scale == 1:
            pixels = _decode_jpeg_torch(source, img, channels)
            if pixels is not None:
                return Reduced(pixels, 1, (width, height))
        try:
            img.load()
        except Exception as err:  # PIL's decoders raise OSError, SyntaxError, struct.error, ...
            raise ImageDecodeError(f"{name}: not a decodable image (corrupt or truncated: {err})") from None
        upright = _upright(img)
        if upright.size != img.size and upright.size == img.size[::-1]:
            width, height = height, width
        return Reduced(_to_array(upright, channels), scale, (width, height))


def decode_image(source: Source, channels: int | None = 3, **options) -> Tensor:
    """:func:`decode_array` as a uint8 tensor ``[C, H, W]``."""
    import torch

    array = decode_array(source, channels, **options)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def image_size(source: Source) -> tuple[int, int] | None:
    """``(width, height)`` as displayed (after EXIF rotation), from the header alone; None when the
    header cannot be read (decoding then reports why)."""
    try:
        with _opened(source, "", ALLOWED_FORMATS, DEFAULT_MAX_PIXELS) as img:
            width, height = img.size
            if img.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS:
                return height, width
            return width, height
    except Exception:  # unreadable headers are reported by decode_array
        return None


@contextmanager
def _opened(source: Source, name: str, formats: Collection[str], limit: int) -> Iterator[Image.Image]:
    """The image opened lazily (header read, no pixels); a failure to open becomes an
    :class:`ImageDecodeError` naming ``name`` (a missing file stays ``FileNotFoundError``)."""
    if isinstance(source, bytes):
        if not source:
            raise ImageDecodeError(f"{name}: not a decodable image (empty file)")
        fp: io.BytesIO | Path = io.BytesIO(source)
    else:
        fp = Path(source)
        if not _regular_file(fp):
            raise ImageDecodeError(f"{name}: not a regular file (a pipe, a device or a broken link)")
        if fp.is_file() and fp.stat().st_size == 0:
            raise ImageDecodeError(f"{name}: not a decodable image (empty file)")
    with warnings.catch_warnings():
        # PIL warns (not raises) between MAX_IMAGE_PIXELS and twice that; max_pixels decides instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            # MPO (multi-picture JPEG, from many cameras) is opened by the JPEG opener.
            image = Image.open(fp, formats=sorted({"JPEG" if f == "MPO" else f for f in formats}))
        except FileNotFoundError:
            raise
        except Image.DecompressionBombError:
            raise ImageDecodeError(f"{name}: more than {(Image.MAX_IMAGE_PIXELS or 0) * 2:,} pixels exceeds "
                                   f"the limit of {limit:,} pixels") from None
        except UnidentifiedImageError:
            raise ImageDecodeError(f"{name}: not a decodable image (unknown format, or not one of "
                                   f"{', '.join(sorted(formats))})") from None
        except Exception as err:  # a header PIL recognises but cannot parse
            raise ImageDecodeError(f"{name}: not a decodable image (corrupt or truncated: {err})") from None
        with image:
            if image.format not in formats:
                raise ImageDecodeError(f"{name}: image format {image.format} is not accepted")
            yield image


def _regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file, or a missing one (which opening reports as missing).
    Opening a named pipe would block for ever, so pipes, devices and broken links are refused."""
    return path.is_file() or not (path.exists() or path.is_symlink())


def preload_jpeg_decoder() -> None:
    """Import the fast JPEG path's decoder (``torchvision.io``, about a second) in this process, so
    that the data loader's worker processes forked from it find it imported instead of each
    importing it on its first photo."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import torchvision.io  # noqa: F401
        except Exception:  # without torchvision's codecs, PIL decodes (see _decode_jpeg_torch)
            pass


def _decode_jpeg_torch(source: Source, img: Image.Image, channels: int | None) -> np.ndarray | None:
    """uint8 ``[H, W, C]`` of a JPEG that needs no conversion, rotation or reduction, decoded by
    torchvision; None where PIL has to decide (another mode, an EXIF rotation, a decode error)."""
    if img.format != "JPEG" or img.mode not in ("RGB", "L"):
        return None
    if channels is not None and (channels == 3) != (img.mode == "RGB"):
        return None  # a conversion: PIL's rules
    try:
        if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
            return None
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        with warnings.catch_warnings():  # torchvision >= 0.29 marks its image codecs deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            import torch
            from torchvision.io import ImageReadMode, decode_jpeg

            mode = ImageReadMode.RGB if img.mode == "RGB" else ImageReadMode.GRAY
            decoded = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=mode)
    except Exception:  # PIL's path reports what is wrong; a torchvision without codecs leaves it to PIL
        return None
    if tuple(decoded.shape[1:]) != (img.height, img.width):
        return None
    return decoded.permute(1, 2, 0).contiguous().numpy()


def _upright(img: Image.Image) -> Image.Image:
    try:
        if img.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            return img  # exif_transpose would return a copy of every unrotated photo
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block does not make the pixels wrong; keep them as stored
        return img


def _to_array(img: Image.Image, channels: int | None) -> np.ndarray:
    if channels is None:
        channels = 1 if img.mode in _GRAY else 3
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img).astype(np.float64)
        img = Image.fromarray(np.rint(np.clip(wide, 0, 65535) * (255 / 65535)).astype(np.uint8))
    elif img.mode == "F":
        img = Image.fromarray(np.rint(np.clip(np.asarray(img), 0, 255)).astype(np.uint8))
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        img = Image.alpha_composite(Image.new("RGBA", img.size, _WHITE), img.convert("RGBA"))
    wanted = "L" if channels == 1 else "RGB"
    if img.mode != wanted:
        img = img.convert(wanted)
    return np.array(img, dtype=np.uint8).reshape(img.height, img.width, channels)  # writable


__all__ = ["ALLOWED_FORMATS", "DEFAULT_MAX_PIXELS", "ImageDecodeError", "Reduced", "decode_array",
           "decode_image", "decode_reduced", "image_size"]
