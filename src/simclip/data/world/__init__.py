"""The built-in multimodal world: the ``shapes`` objects rendered as real files, one per modality
(RGB image, depth map, sound, point cloud, caption), listed in a ``pairs.csv`` that ``pairs:FILE``
reads. ``make_world(out, n, seed)`` writes it; every file is a pure function of ``(n, seed)``."""

from simclip.data.world.objects import WorldObjects, sample_objects
from simclip.data.world.write import make_world

__all__ = ["WorldObjects", "make_world", "sample_objects"]
