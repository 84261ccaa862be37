"""One reader per file modality: each takes a path and returns an array, or raises
:class:`PairFileError` (or the image decoder's error) naming the file.

- ``image``: any image :mod:`simclip.imageio` decodes, as uint8 ``[3, H, W]``.
- ``depth``: a 16-bit (or 8-bit) grayscale PNG in thousandths of a unit, or a float ``.npy``
  ``[H, W]``; float32 ``[1, H, W]``.
- ``audio``: a PCM WAV (see ``audio.py``); float32 ``[T]`` and its sample rate.
- ``points``: a float ``.npy`` ``[K, 3]`` (more columns: the first three are used); float32.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from simclip import imageio
from simclip.data.paired.errors import PairFileError

DEPTH_SCALE = 1000.0  # integer depth PNGs hold thousandths of a unit
MAX_DEPTH_PIXELS = 16_000_000


def read_image(path: Path) -> np.ndarray:
    """uint8 ``[3, H, W]``."""
    return imageio.decode_array(path, channels=3).transpose(2, 0, 1)


def read_depth(path: Path) -> np.ndarray:
    """float32 ``[1, H, W]`` distances."""
    if path.suffix.lower() == ".npy":
        depth = _load_npy(path).astype(np.float32)
        if depth.ndim == 3 and depth.shape[0] == 1:
            depth = depth[0]
        if depth.ndim != 2:
            raise PairFileError(f"{path}: a depth map must be [H, W], got shape {list(depth.shape)}")
    else:
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        try:
            with Image.open(path) as img:
                if img.format != "PNG" or img.mode not in ("I;16", "I;16B", "I;16L", "I", "L"):
                    raise PairFileError(f"{path}: a depth image must be a grayscale PNG, got "
                                        f"{img.format} {img.mode}")
                if img.width * img.height > MAX_DEPTH_PIXELS:
                    raise PairFileError(f"{path}: {img.width}x{img.height} is too large for a depth map")
                depth = np.asarray(img, dtype=np.float32) / DEPTH_SCALE
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise PairFileError(f"{path} is not a readable depth PNG ({err})") from None
    if not np.isfinite(depth).all():
        raise PairFileError(f"{path}: the depth map holds non-finite values")
    return depth[None]


def read_points(path: Path) -> np.ndarray:
    """float32 ``[K, 3]``."""
    points = _load_npy(path)
    if points.ndim != 2 or points.shape[1] < 3 or points.shape[0] < 1:
        raise PairFileError(f"{path}: a point cloud must be [K, 3] (K >= 1), got shape {list(points.shape)}")
    points = points[:, :3].astype(np.float32)
    if not np.isfinite(points).all():
        raise PairFileError(f"{path}: the point cloud holds non-finite values")
    return points


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise PairFileError(f"{path} is not a readable .npy array ({err})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise PairFileError(f"{path}: expected a numeric array, got {getattr(array, 'dtype', type(array))}")
    return array
