"""Finding image files under a root folder and decoding untrusted image bytes safely.

Both the index builder (files on disk) and the service (uploaded bytes) go through here, so one set of
rules decides what counts as an image: known extensions, a size limit against decompression bombs,
and symlinks that may not lead outside the root.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}
# PIL formats the decoder accepts; anything else (EPS, which runs Ghostscript; ICNS; PSD...) is refused.
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
# 40 megapixels (e.g. 8000x5000, far above any camera photo worth indexing) decodes to 120 MB of RGB.
# A PNG of a few KB can claim 50,000x50,000 pixels, so the header is checked before any pixel is read.
DEFAULT_MAX_PIXELS = 40_000_000


class ImageDecodeError(ValueError):
    """Bytes or a file that are not an acceptable image (unknown format, corrupt, or too large)."""


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

    Raises ``ValueError`` naming an item that lies outside ``root`` and ``FileNotFoundError`` for a
    missing one: an index's ids are paths relative to its image root.
    """
    root = Path(root).resolve()
    ids: list[str] = []
    for item in items:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"image path {str(path)!r} does not exist")
        absolute = path.resolve()
        if not absolute.is_relative_to(root):
            raise ValueError(f"image path {str(path)!r} is outside the index's image root {str(root)!r}")
        if path.is_dir():
            prefix = absolute.relative_to(root).as_posix()
            ids += [f"{prefix}/{rel}" if prefix != "." else rel for rel in find_images(absolute)]
        elif is_image_name(path.name):
            ids.append(absolute.relative_to(root).as_posix())
        else:
            raise ValueError(f"image path {str(path)!r} does not end in one of {IMAGE_EXTENSIONS}")
    return sorted(dict.fromkeys(ids))


def _decode(source: io.BytesIO | Path, max_pixels: int, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # PIL warns (not raises) between MAX_IMAGE_PIXELS and twice that; treat it as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if image.format not in ALLOWED_FORMATS:
                    raise ImageDecodeError(f"{name}: image format {image.format} is not accepted")
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageDecodeError(f"{name}: {width}x{height} pixels exceeds the limit of "
                                           f"{max_pixels:,} pixels")
                image.load()
                return image.convert("RGB")
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageDecodeError(f"{name}: the image exceeds the limit of {max_pixels:,} pixels "
                               f"(decompression bomb protection)") from err
    except UnidentifiedImageError as err:
        raise ImageDecodeError(f"{name}: not a readable image (unknown or unsupported format)") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated or corrupt data
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({err})") from err


def decode_image_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode untrusted ``data`` to an RGB image, or raise :class:`ImageDecodeError` saying why."""
    if not data:
        raise ImageDecodeError("upload: the file is empty")
    return _decode(io.BytesIO(data), max_pixels, "upload")


def open_image_file(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode the image at ``path`` to RGB, or raise :class:`ImageDecodeError` naming the file."""
    return _decode(Path(path), max_pixels, str(path))
