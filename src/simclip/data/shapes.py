"""``shapes``: a built-in procedural dataset of coloured shapes with compositional captions.

Each image holds one flat-coloured shape (circle, square, triangle, star, cross) in one of six
colours, small or large, at one of five positions (left, right, top, bottom, center, jittered by
about a pixel per 32), on a dark grey, lightly noisy background. Captions name the attributes in
several phrasings ("a small red circle on the left", "on the left, a small red circle", ...).

Held-out combinations: the ``test`` split draws only the colour x shape pairs of
``HELD_OUT_PAIRS`` and ``train`` never shows them. A pair (shape i, colour j) is held out when
``(j - i) % 6`` is 0 or 3, i.e. 10 of the 30 pairs; every shape and every colour still appears in
training (each shape in 4 colours, each colour with 3 or 4 shapes), so the test split measures
whether a model composes known attributes into unseen combinations. Sizes and positions are drawn
uniformly in both splits.

Everything is a pure function of (split, n, seed, image_size); 4,000 images at 32x32 take a
fraction of a second.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.spec import check_split

SHAPES = ("circle", "square", "triangle", "star", "cross")
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 235),
          "yellow": (235, 210, 40), "purple": (150, 60, 200), "orange": (245, 135, 30)}
COLOR_NAMES = tuple(COLORS)
SIZES = ("small", "large")
POSITIONS = ("left", "right", "top", "bottom", "center")
WHERE = {"left": "on the left", "right": "on the right", "top": "at the top",
         "bottom": "at the bottom", "center": "in the center"}
HELD_OUT_PAIRS = frozenset((s, c) for i, s in enumerate(SHAPES) for j, c in enumerate(COLOR_NAMES)
                           if (j - i) % len(COLOR_NAMES) in (0, 3))
DEFAULT_N = {"train": 4000, "test": 1000}

# Labellings for zero-shot evaluation; class names are noun phrases so that prompts such as
# "a photo of a {}." read naturally.
LABELINGS = ("shape", "color", "size", "position", "pair")

CAPTION_TEMPLATES = (
    "a {size} {color} {shape} {where}",
    "there is a {size} {color} {shape} {where}",
    "{where}, a {size} {color} {shape}",
    "a {color} {shape} {where}",
    "a {color} {shape}",
    "a {size} {shape} in {color}",
)

_AN_BEFORE_VOWEL = re.compile(r"\ba (?=[aeiou])")  # "an orange triangle", not "a orange triangle"
_CENTER = {"left": (0.28, 0.5), "right": (0.72, 0.5), "top": (0.5, 0.28), "bottom": (0.5, 0.72),
           "center": (0.5, 0.5)}
RADIUS = {"small": 0.13, "large": 0.22}  # fraction of the image side
BACKGROUND = (25, 70)  # grey level range, dark so every colour stands out
NOISE = 6  # +- grey levels of background noise
_SPLIT_STREAM = {"train": 0, "test": 1}


@dataclass
class ShapeScenes:
    """Rendered scenes and the attributes drawn into them.

    Attributes:
        images: uint8 ``[N, 3, S, S]``.
        shape, color, size, position: int64 ``[N]`` indices into SHAPES, COLOR_NAMES, SIZES,
            POSITIONS.
        centers: int64 ``[N, 2]``, the (x, y) pixel at the centre of each shape.
    """

    images: Tensor
    shape: Tensor
    color: Tensor
    size: Tensor
    position: Tensor
    centers: Tensor


def render_shapes(split: str = "train", n: int | None = None, seed: int = 0,
                  image_size: int = 32) -> ShapeScenes:
    """Draw ``n`` scenes of a split (defaults: 4,000 train, 1,000 test) at ``image_size``."""
    check_split(split)
    n = DEFAULT_N[split] if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"image_size must be an int >= 16 for shapes, got {image_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    pairs = [(i, j) for i, s in enumerate(SHAPES) for j, c in enumerate(COLOR_NAMES)
             if ((s, c) in HELD_OUT_PAIRS) == (split == "test")]
    shape, color = np.array(pairs)[rng.integers(len(pairs), size=n)].T
    size = rng.integers(len(SIZES), size=n)
    position = rng.integers(len(POSITIONS), size=n)
    jitter = max(1, round(image_size / 32))
    base = np.array([_CENTER[p] for p in POSITIONS])[position] * image_size
    centers = np.floor(base).astype(np.int64) + rng.integers(-jitter, jitter + 1, size=(n, 2))
    images = _background(rng, n, image_size)
    for k, name in enumerate(SHAPES):
        idx = np.flatnonzero(shape == k)
        radius = np.array([RADIUS[s] for s in SIZES])[size[idx]] * image_size
        mask = shape_mask(name, centers[idx], radius, image_size)
        rgb = np.array([COLORS[c] for c in COLOR_NAMES], dtype=np.uint8)[color[idx]]
        images[idx] = np.where(mask[:, None], rgb[:, :, None, None], images[idx])
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    return ShapeScenes(images=torch.from_numpy(images), shape=as_tensor(shape),
                       color=as_tensor(color), size=as_tensor(size),
                       position=as_tensor(position), centers=as_tensor(centers))


def scene_captions(shape: int, color: int, size: int, position: int) -> list[str]:
    """All phrasings for one scene's attribute indices, e.g. ``"a small red circle on the left"``."""
    words = {"shape": SHAPES[shape], "color": COLOR_NAMES[color], "size": SIZES[size],
             "where": WHERE[POSITIONS[position]]}
    return [_AN_BEFORE_VOWEL.sub("an ", t.format(**words)) for t in CAPTION_TEMPLATES]


def label_classes(labeling: str) -> list[str]:
    """Class names of a labelling: ``"circle"``, ``"red shape"``, ``"small shape"``,
    ``"shape on the left"`` or ``"red circle"`` (pair index = shape * 6 + colour)."""
    if labeling == "shape":
        return list(SHAPES)
    if labeling == "color":
        return [f"{c} shape" for c in COLOR_NAMES]
    if labeling == "size":
        return [f"{s} shape" for s in SIZES]
    if labeling == "position":
        return [f"shape {WHERE[p]}" for p in POSITIONS]
    if labeling == "pair":
        return [f"{c} {s}" for s in SHAPES for c in COLOR_NAMES]
    raise ValueError(f"labeling must be one of {', '.join(LABELINGS)}, got {labeling!r}")


def load_shapes(split: str = "train", image_size: int | None = None, n: int | None = None,
                seed: int = 0, label: str = "shape") -> CaptionDataset:
    """The shapes dataset as captions, labelled by ``label`` (one of ``LABELINGS``)."""
    classes = label_classes(label)
    scenes = render_shapes(split, n=n, seed=seed, image_size=image_size or 32)
    attrs = torch.stack([scenes.shape, scenes.color, scenes.size, scenes.position], 1).tolist()
    labels = scenes.color + len(COLOR_NAMES) * scenes.shape if label == "pair" \
        else getattr(scenes, label)
    return CaptionDataset(images=scenes.images, captions=[scene_captions(*a) for a in attrs],
                          name="shapes", split=split, labels=labels, classes=classes)


def _background(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    level = rng.integers(*BACKGROUND, size=(n, 1, 1, 1))
    noise = rng.integers(-NOISE, NOISE + 1, size=(n, 1, side, side))
    return np.clip(level + noise, 0, 255).astype(np.uint8).repeat(3, axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    angles = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


# Polygons in unit coordinates (x right, y down), centred on the origin.
_POLYGONS = {
    "triangle": np.array([[0.0, -1.0], [-1.0, 0.65], [1.0, 0.65]]),
    "star": _star(),
}


def shape_mask(name: str, centers: np.ndarray, radius: np.ndarray, side: int) -> np.ndarray:
    """bool ``[n, side, side]``: pixels whose centre lies inside each shape."""
    grid = np.arange(side, dtype=np.float32) + 0.5
    centers, radius = centers.astype(np.float32), radius.astype(np.float32)
    # Shape centres sit at pixel centres, so the pixel `centers` is always inside the shape.
    u = (grid[None, None, :] - (centers[:, 0, None, None] + 0.5)) / radius[:, None, None]
    v = (grid[None, :, None] - (centers[:, 1, None, None] + 0.5)) / radius[:, None, None]
    u, v = np.broadcast_arrays(u, v)
    if name == "circle":
        return u * u + v * v <= 1.0
    if name == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.85
    if name == "cross":
        arm, reach = 0.32, 1.0
        return ((np.abs(u) <= arm) & (np.abs(v) <= reach)) | ((np.abs(v) <= arm) & (np.abs(u) <= reach))
    return _inside_polygon(_POLYGONS[name], u, v)


def _inside_polygon(poly: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Even-odd rule: a point is inside when a ray to the right crosses the boundary oddly often."""
    inside = np.zeros(u.shape, dtype=bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        if y1 == y2:
            continue
        crosses = ((y1 > v) != (y2 > v)) & (u < x1 + (v - y1) * (x2 - x1) / (y2 - y1))
        inside ^= crosses
    return inside
