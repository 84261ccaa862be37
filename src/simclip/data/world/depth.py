"""Depth maps of the world's objects: the distance from a camera looking straight down.

The floor lies ``CAMERA_DISTANCE`` below the camera; an object's top is its extrusion height
closer, flat for every shape but the circle, which is a dome (a spherical cap of that height).
A little sensor noise is added. Distances are in units of the image side.
"""
from __future__ import annotations

import numpy as np

CAMERA_DISTANCE = 2.0
NOISE = 0.004


def render_depth(masks: np.ndarray, heights: np.ndarray, domes: np.ndarray, centers: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """float32 ``[n, S, S]`` distances for bool ``masks [n, S, S]``, ``heights [n]``, bool ``domes
    [n]`` (dome-shaped objects) and int ``centers [n, 2]`` (x, y)."""
    n, side, _ = masks.shape
    grid = np.arange(side, dtype=np.float32)
    dx = grid[None, None, :] - centers[:, 0, None, None]
    dy = grid[None, :, None] - centers[:, 1, None, None]
    r2 = dx * dx + dy * dy
    # radius of each object's footprint, from its area (exact for a circle)
    radius = np.sqrt(masks.sum(axis=(1, 2)) / np.pi).clip(min=1.0)[:, None, None]
    dome = np.sqrt(np.clip(1.0 - r2 / radius ** 2, 0.0, 1.0))
    profile = np.where(domes[:, None, None], dome, 1.0)
    top = heights[:, None, None] * profile * masks
    depth = CAMERA_DISTANCE - top + rng.normal(0.0, NOISE, size=(n, side, side))
    return depth.astype(np.float32)


def depth_to_png_units(depth: np.ndarray) -> np.ndarray:
    """uint16 millimetres (1/1000 of the image side) for a 16-bit PNG; the reader divides by 1000."""
    return np.clip(np.rint(depth * 1000.0), 0, 65535).astype(np.uint16)
