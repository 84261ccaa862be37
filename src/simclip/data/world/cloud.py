"""Point clouds of the world's objects: points on the surface of each shape's extrusion.

The footprint is the shape's pixels in the image, each point placed uniformly inside a pixel;
``TOP`` of the points lie on the top face (at the object's height), ``BOTTOM`` on the floor face and
the rest on the side walls (in pixels on the footprint's border, at a uniform height). Coordinates:
x, y in units of the image side (0..1, y down), z the height above the floor in the same units.
"""
from __future__ import annotations

import numpy as np

POINTS = 256
TOP, BOTTOM = 0.4, 0.2  # shares of the points; the walls take the rest


def sample_points(mask: np.ndarray, height: float, rng: np.random.Generator,
                  points: int = POINTS) -> np.ndarray:
    """float32 ``[points, 3]`` (x, y, z) for one bool footprint ``mask [S, S]`` and its ``height``."""
    side = mask.shape[0]
    inside = np.argwhere(mask)  # (row, col)
    padded = np.pad(mask, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    border = np.argwhere(mask & ~interior)
    if len(border) == 0:
        border = inside
    n_top, n_bottom = int(points * TOP), int(points * BOTTOM)
    n_wall = points - n_top - n_bottom
    chosen = np.concatenate([inside[rng.integers(len(inside), size=n_top + n_bottom)],
                             border[rng.integers(len(border), size=n_wall)]])
    xy = (chosen[:, ::-1] + rng.uniform(0.0, 1.0, size=(points, 2))) / side
    z = np.concatenate([np.full(n_top, height), np.zeros(n_bottom), rng.uniform(0.0, height, size=n_wall)])
    return np.concatenate([xy, z[:, None]], axis=1).astype(np.float32)
