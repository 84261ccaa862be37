"""Encoding source samples into the tar members of a shard, and the pixel statistics of the index.

A sample to write is an :class:`Item`: its image as a file to decode or as pixels, its label and
captions. :func:`encode_items` (run in worker processes or threads by the writer) decodes a file,
fits it to the square size (``decode.decode_square``) and encodes it as PNG (lossless) or JPEG, and
adds each image of the first ``STATS_IMAGES`` to per-channel pixel sums.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from simclip import imageio
from simclip.data.decode import decode_square

FORMATS = {"png": "png", "jpeg": "jpg"}  # --format -> the tar field name
STATS_IMAGES = 10_000  # index statistics come from the first images, as the in-memory recipes take


@dataclass(frozen=True)
class Item:
    """One source sample: ``image`` is a file to decode or uint8 pixels ``[S, S, C]``; ``index``
    is its position in the source split, which names it in the shard (``f"{index:09d}"``)."""

    index: int
    image: str | np.ndarray
    label: int | None = None
    captions: tuple[str, ...] | None = None
    where: str = ""  # names the item in errors, e.g. "pairs.csv line 4"


@dataclass(frozen=True)
class EncodeOptions:
    """How items become images: square side, channels (1 or 3), format (``FORMATS``), quality."""

    image_size: int
    channels: int
    image_format: str = "png"
    quality: int = 90
    strict: bool = False


@dataclass
class PixelStats:
    """Running per-channel sums of pixel values in [0, 1] over ``images`` images."""

    sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    squares: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pixels: int = 0
    images: int = 0

    def add(self, image: np.ndarray) -> None:
        """Add uint8 ``[S, S, C]``."""
        values = image.reshape(-1, image.shape[-1]).astype(np.float64) / 255
        if self.pixels == 0:
            self.sums, self.squares = np.zeros(values.shape[1]), np.zeros(values.shape[1])
        self.sums += values.sum(axis=0)
        self.squares += np.square(values).sum(axis=0)
        self.pixels += values.shape[0]
        self.images += 1

    def merge(self, other: PixelStats) -> None:
        """Add the sums of ``other``."""
        if other.pixels:
            if self.pixels == 0:
                self.sums, self.squares = np.zeros_like(other.sums), np.zeros_like(other.squares)
            self.sums += other.sums
            self.squares += other.squares
            self.pixels += other.pixels
            self.images += other.images

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Per-channel mean and (unbiased) standard deviation, or None without pixels."""
        if self.pixels < 2:
            return None
        mean = self.sums / self.pixels
        var = np.maximum(self.squares - self.pixels * np.square(mean), 0) / (self.pixels - 1)
        return tuple(map(float, mean)), tuple(map(float, np.sqrt(var)))

    def to_json(self) -> dict:
        """A JSON object from which ``from_json`` rebuilds these sums (for resuming)."""
        return {"sums": self.sums.tolist(), "squares": self.squares.tolist(),
                "pixels": self.pixels, "images": self.images}

    @classmethod
    def from_json(cls, data: dict) -> PixelStats:
        """The inverse of ``to_json``."""
        return cls(np.array(data["sums"], dtype=np.float64),
                   np.array(data["squares"], dtype=np.float64), int(data["pixels"]),
                   int(data["images"]))


@dataclass
class Encoded:
    """The tar members of one item (``members``: name -> bytes), or why it was skipped (``bad``)."""

    index: int
    members: list[tuple[str, bytes]]
    bad: str | None = None


def encode_items(items: list[Item], options: EncodeOptions) -> tuple[list[Encoded], PixelStats]:
    """Encode ``items``; images that cannot be decoded are skipped (``Encoded.bad``) unless
    ``options.strict``. Returns the encoded items and the statistics of the first images."""
    stats, out = PixelStats(), []
    for item in items:
        try:
            pixels = _pixels(item, options)
        except imageio.ImageDecodeError as err:
            if options.strict and item.where:
                raise imageio.ImageDecodeError(f"{item.where}: {err}") from None
            if options.strict:
                raise
            reason = f"{item.where}: {err}" if item.where else str(err)  # err names the file
            out.append(Encoded(item.index, [], bad=reason))
            continue
        if item.index < STATS_IMAGES:
            stats.add(pixels)
        key = f"{item.index:09d}"
        members = [(f"{key}.{FORMATS[options.image_format]}", encode_image(pixels, options))]
        if item.label is not None:
            members.append((f"{key}.cls", str(item.label).encode()))
        if item.captions is not None:
            # One caption per line; a line break inside a caption becomes a space, which text
            # tokenizers treat alike (CLIP's collapses all whitespace).
            lines = (" ".join(c.split()) for c in item.captions)
            members.append((f"{key}.txt", "\n".join(lines).encode("utf-8")))
        out.append(Encoded(item.index, members))
    return out, stats


def encode_image(image: np.ndarray, options: EncodeOptions) -> bytes:
    """PNG or JPEG bytes of uint8 ``[H, W, C]`` with C in (1, 3)."""
    if options.image_format == "png":
        return encode_png(image)
    buffer = io.BytesIO()
    _pil(image).save(buffer, format="JPEG", quality=options.quality)
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of uint8 ``[H, W, C]`` with C in (1, 3)."""
    buffer = io.BytesIO()
    _pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, 0], "L") if image.shape[2] == 1 else Image.fromarray(image, "RGB")


def _pixels(item: Item, options: EncodeOptions) -> np.ndarray:
    if isinstance(item.image, np.ndarray):
        return item.image
    return decode_square(Path(item.image), options.image_size, options.channels)
