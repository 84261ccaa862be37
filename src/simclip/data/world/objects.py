"""The objects of the world: the ``shapes`` scenes plus what an image does not show (a height).

Every colour x shape pair appears (the ``shapes`` train split draws 20 of the 30 pairs and its test
split the other 10: two thirds of the objects come from the one, a third from the other, then all
are shuffled). Each object is also extruded to a height drawn uniformly in ``HEIGHT_RANGE``, which
the depth map and the point cloud show and the image does not. The last ``test_fraction`` of the
shuffled objects form the held-out split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simclip.data.shapes import COLOR_NAMES, POSITIONS, SHAPES, SIZES, render_shapes, scene_captions

HEIGHT_RANGE = (0.2, 1.0)  # extrusion height, in units of the image side
IMAGE_SIZE = 32


@dataclass
class WorldObjects:
    """``n`` objects; arrays are numpy, indexed by object.

    Attributes:
        images: uint8 ``[n, 3, S, S]``; masks: bool ``[n, S, S]``, the pixels the shape covers.
        shape, color, size, position: int64 ``[n]`` indices into SHAPES, COLOR_NAMES, SIZES, POSITIONS.
        centers: int64 ``[n, 2]`` (x, y) pixel of each shape's centre; height: float32 ``[n]``.
        captions: one caption per object; split: ``"train"`` or ``"test"`` per object.
    """

    images: np.ndarray
    masks: np.ndarray
    shape: np.ndarray
    color: np.ndarray
    size: np.ndarray
    position: np.ndarray
    centers: np.ndarray
    height: np.ndarray
    captions: list[str]
    split: list[str]

    def __len__(self) -> int:
        return len(self.shape)

    def labels(self, i: int) -> dict[str, str]:
        """The attribute names of object ``i``: shape, color, size, position."""
        return {"shape": SHAPES[self.shape[i]], "color": COLOR_NAMES[self.color[i]],
                "size": SIZES[self.size[i]], "position": POSITIONS[self.position[i]]}


def sample_objects(n: int, seed: int = 0, test_fraction: float = 0.2) -> WorldObjects:
    """Draw ``n`` objects (``n >= 2``) with seed ``seed``; see the module doc."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    n_a = max(1, round(n * 2 / 3))
    parts = [render_shapes("train", n=n_a, seed=seed, image_size=IMAGE_SIZE),
             render_shapes("test", n=n - n_a, seed=seed, image_size=IMAGE_SIZE)]
    rng = np.random.default_rng([seed, 77])
    order = rng.permutation(n)
    cat = lambda name: np.concatenate([getattr(p, name).numpy() for p in parts])[order]  # noqa: E731
    images = cat("images")
    # the background is grey (equal channels); every shape colour has unequal channels
    masks = ~((images[:, 0] == images[:, 1]) & (images[:, 1] == images[:, 2]))
    shape, color, size, position = cat("shape"), cat("color"), cat("size"), cat("position")
    height = rng.uniform(*HEIGHT_RANGE, size=n).astype(np.float32)
    phrasing = rng.integers(0, 1 << 16, size=n)
    captions = []
    for i in range(n):
        options = scene_captions(int(shape[i]), int(color[i]), int(size[i]), int(position[i]))
        captions.append(options[phrasing[i] % len(options)])
    n_test = max(1, round(n * test_fraction))
    split = ["train"] * (n - n_test) + ["test"] * n_test
    return WorldObjects(images=images, masks=masks, shape=shape, color=color, size=size,
                        position=position, centers=cat("centers"), height=height,
                        captions=captions, split=split)
