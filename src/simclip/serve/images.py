"""Finding image files under a root folder, and decoding files and untrusted uploads to RGB.

Both the index builder (files on disk) and the service (uploaded bytes) go through here: known
extensions and symlinks that may not lead outside the root decide what counts as an image file,
and :mod:`simclip.imageio` decodes it (allowed formats, the pixel limit against decompression
bombs, EXIF orientation, ...) as everywhere else in simclip.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from simclip.errors import UsageError
from simclip.imageio import ALLOWED_FORMATS, DEFAULT_MAX_PIXELS, ImageDecodeError, decode_array

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}
__all__ = ["ALLOWED_FORMATS", "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "MEDIA_TYPES", "ImageDecodeError",
           "decode_image_bytes", "find_images", "inside_root", "is_image_name", "open_image_file",
           "resolve_image_files"]


def is_image_name(name: str) -> bool:
    """True when ``name`` ends in one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def inside_root(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies inside ``root`` (resolved)."""
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
    except (OSError, RuntimeError):  # missing file, symlink loop
        return False


def find_images(root: str | Path) -> list[str]:
    """Relative POSIX paths of the image files under ``root``, recursively and sorted.

    Hidden files and folders (leading dot) are skipped, directory symlinks are not followed, and file
    symlinks count only when they resolve inside ``root`` — an index never refers to a file outside it.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"images folder {str(root)!r} does not exist or is not a folder")
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or not is_image_name(name):
                continue
            path = Path(folder) / name
            if path.is_symlink() and not inside_root(path, root):
                continue
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


def resolve_image_files(root: str | Path, items: Iterable[str | Path]) -> list[str]:
    """Relative ids of ``items`` (folders are walked, files taken as they are) under ``root``.

    Raises :class:`~simclip.errors.UsageError` (a ``ValueError``) naming an item that lies outside
    ``root`` or is not an image file, and ``FileNotFoundError`` for a missing one: an index's ids are
    paths relative to its image root.
    """
    root = Path(root).resolve()
    ids: list[str] = []
    for item in items:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"image path {str(path)!r} does not exist")
        absolute = path.resolve()
        if not absolute.is_relative_to(root):
            raise UsageError(f"image path {str(path)!r} is outside the index's image root {str(root)!r}")
        if path.is_dir():
            prefix = absolute.relative_to(root).as_posix()
            ids += [f"{prefix}/{rel}" if prefix != "." else rel for rel in find_images(absolute)]
        elif is_image_name(path.name):
            ids.append(absolute.relative_to(root).as_posix())
        else:
            raise UsageError(f"image path {str(path)!r} does not end in one of {IMAGE_EXTENSIONS}")
    return sorted(dict.fromkeys(ids))


def decode_image_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = None) -> Image.Image:
    """Decode untrusted ``data`` to an RGB image, or raise :class:`ImageDecodeError` saying why.

    ``min_side``: a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size as long as both sides stay at
    least this long (see :func:`simclip.imageio.decode_array`); None decodes at full size."""
    return Image.fromarray(decode_array(data, 3, max_pixels=max_pixels, name="upload", min_side=min_side))


def open_image_file(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode the image at ``path`` to RGB, or raise :class:`ImageDecodeError` naming the file."""
    return Image.fromarray(decode_array(Path(path), 3, max_pixels=max_pixels))
