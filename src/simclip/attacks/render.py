"""Writing text onto images, as in the typographic attacks on CLIP (Goh et al. 2021, "Multimodal
Neurons in Artificial Neural Networks": an apple labelled "iPod" is classified as an iPod).

Text is rasterised by PIL from a TrueType font into an antialiased coverage mask ``a`` in [0, 1];
each pixel becomes ``x + opacity * a * (colour - x)``, so pixels the text does not cover are left
exactly as they were and ``opacity=0`` is the identity.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

FONT_FILE = "DejaVuSans.ttf"
DEBIAN_FONT = Path("/usr/share/fonts/truetype/dejavu") / FONT_FILE
MAX_HEIGHT_FRACTION = 0.25  # auto size: text at most a quarter of the image high ...
MAX_WIDTH_FRACTION = 0.9  # ... and 90% of it wide, like a label stuck on an object
MARGIN_FRACTION = 0.04  # gap between text and image edge for position="bottom"
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's "L" conversion

Colour = int | tuple[int, int, int]
Position = str | tuple[int, int]


def default_font_path() -> Path:
    """DejaVu Sans: matplotlib's bundled copy (always installed with simclip), else Debian's."""
    import matplotlib

    for path in (Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONT_FILE, DEBIAN_FONT):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no {FONT_FILE} found in matplotlib's data or at {DEBIAN_FONT}; "
                            f"pass font=PATH to a TrueType font")


@functools.lru_cache(maxsize=256)
def _truetype(path: str, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, pixels)


def load_font(font: str | Path | None, pixels: int) -> ImageFont.FreeTypeFont:
    """The TrueType ``font`` file (default DejaVu Sans) at ``pixels`` em size."""
    path = Path(font) if font is not None else default_font_path()
    if not path.is_file():
        raise FileNotFoundError(f"font {str(path)!r} does not exist")
    try:
        return _truetype(str(path), pixels)
    except OSError as err:
        raise ValueError(f"font {str(path)!r} is not a TrueType/OpenType font: {err}") from err


def _font_pixels(text: str, height: int, width: int, font: str | Path | None, size: float | None) -> int:
    side = min(height, width)
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size <= 2:
            raise ValueError(f"size must be a fraction of the image side in (0, 2], got {size!r}")
        return max(1, round(size * side))
    # Largest em size whose text fits the width budget (at least 4 px, below which glyphs are noise).
    pixels = max(4, round(MAX_HEIGHT_FRACTION * side))
    while pixels > 4 and load_font(font, pixels).getlength(text) > MAX_WIDTH_FRACTION * width:
        pixels -= 1
    return pixels


def _anchor(position: Position, height: int, width: int) -> tuple[tuple[float, float], str]:
    """PIL anchor point and anchor code for ``position``."""
    if position == "center":
        return (width / 2, height / 2), "mm"
    if position == "bottom":
        return (width / 2, height - MARGIN_FRACTION * min(height, width)), "md"
    if (isinstance(position, tuple) and len(position) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in position)):
        return (float(position[0]), float(position[1])), "la"
    raise ValueError(f"position must be 'center', 'bottom' or an (x, y) pixel tuple, got {position!r}")


def text_bbox(height: int, width: int, text: str, *, font: str | Path | None = None,
              size: float | None = None, position: Position = "center",
              background: Colour | None = None) -> tuple[int, int, int, int]:
    """Pixel box ``(left, top, right, bottom)`` (right/bottom exclusive) that :func:`render_text`
    may change on an ``height x width`` image: the text's layout box, padded when a background box
    is drawn behind it. Parts outside the image are clipped away."""
    pixels = _font_pixels(text, height, width, font, size)
    xy, anchor = _anchor(position, height, width)
    draw = ImageDraw.Draw(Image.new("L", (width, height)))
    left, top, right, bottom = draw.textbbox(xy, text, font=load_font(font, pixels), anchor=anchor)
    pad = _padding(pixels) if background is not None else 0
    # One pixel of slack on the far sides: antialiased edges may touch the pixel the box ends in.
    box = (math.floor(left) - pad, math.floor(top) - pad, math.ceil(right) + pad + 1,
           math.ceil(bottom) + pad + 1)
    return (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))


def _padding(pixels: int) -> int:
    return max(1, round(0.15 * pixels))


def _masks(text: str, height: int, width: int, font, size, position,
           background) -> tuple[np.ndarray, np.ndarray | None]:
    """Coverage masks in [0, 1] ``[H, W]`` of the text and of its background box (or ``None``)."""
    pixels = _font_pixels(text, height, width, font, size)
    xy, anchor = _anchor(position, height, width)
    face = load_font(font, pixels)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text(xy, text, fill=255, font=face, anchor=anchor)
    text_mask = np.asarray(canvas, dtype=np.float32) / 255.0
    if background is None:
        return text_mask, None
    left, top, right, bottom = draw.textbbox(xy, text, font=face, anchor=anchor)
    pad = _padding(pixels)
    box = Image.new("L", (width, height), 0)
    ImageDraw.Draw(box).rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=255)
    return text_mask, np.asarray(box, dtype=np.float32) / 255.0


def _colour(name: str, value: Colour, channels: int) -> Tensor:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)):
        raise ValueError(f"{name} must be an int or an (r, g, b) tuple of ints in 0..255, got {value!r}")
    if channels == 1:
        return torch.tensor([sum(w * v for w, v in zip(_LUMA, value))]).view(1, 1, 1)
    return torch.tensor(value, dtype=torch.float32).view(3, 1, 1)


def _texts(text: str | Sequence[str], n: int) -> list[str]:
    if isinstance(text, str):
        return [text] * n
    if isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
        if len(text) != n:
            raise ValueError(f"text has {len(text)} strings for {n} images; give one per image or one str")
        return list(text)
    raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")


def render_text(images: Tensor, text: str | Sequence[str], *, font: str | Path | None = None,
                size: float | None = None, position: Position = "center",
                color: Colour = (255, 255, 255), opacity: float = 1.0,
                background: Colour | None = None) -> Tensor:
    """Write ``text`` onto each image.

    Args:
        images: uint8 ``[B, C, H, W]``, C 1 or 3.
        text: one string for all images or one per image.
        font: a TrueType font file; default DejaVu Sans.
        size: em size as a fraction of ``min(H, W)``; ``None`` picks the largest size (up to a
            quarter of the side) whose text fits 90% of the width.
        position: ``"center"``, ``"bottom"`` (centred horizontally, just above the bottom edge) or
            ``(x, y)``: the pixel where the text's top-left (ascender line) starts.
        color, background: ``(r, g, b)`` or a grey level; grey images take the colour's luma.
            ``background`` fills a box behind the text (a paper label); ``None`` draws none.
        opacity: in [0, 1]; blends text and box into the image, 0 leaves it unchanged.

    Returns:
        uint8 ``[B, C, H, W]``, a new tensor on the device of ``images``.
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4 \
            or images.shape[1] not in (1, 3):
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be uint8 [B, C, H, W] with C 1 or 3, got {got}")
    if isinstance(opacity, bool) or not isinstance(opacity, (int, float)) or not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be a number in [0, 1], got {opacity!r}")
    b, c, h, w = images.shape
    texts = _texts(text, b)
    ink = _colour("color", color, c)
    fill = _colour("background", background, c) if background is not None else None
    _anchor(position, h, w)  # validates before any drawing
    if opacity == 0.0 or b == 0:
        return images.clone()
    out = images.cpu().float()
    cache: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for i, line in enumerate(texts):
        if line not in cache:
            cache[line] = _masks(line, h, w, font, size, position, background)
        text_mask, box_mask = cache[line]
        if box_mask is not None and fill is not None:  # a box is drawn exactly when there is a background
            out[i] += opacity * torch.from_numpy(box_mask) * (fill - out[i])
        out[i] += opacity * torch.from_numpy(text_mask) * (ink - out[i])
    return out.round_().clamp_(0, 255).to(torch.uint8).to(images.device)
