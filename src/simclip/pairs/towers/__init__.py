"""One tower per modality, from a registry: ``create_tower(modality, embed_dim, name=None, **options)``.

Built in: ``image-cnn`` (RGB), ``depth-cnn`` (one channel), ``audio-cnn`` (log-mel spectrograms),
``pointnet`` (point clouds), ``text-transformer`` (captions)."""

from simclip.pairs.towers import audio, image, pointnet, text  # noqa: F401  (register the towers)
from simclip.pairs.towers.registry import DEFAULT_TOWERS, create_tower, list_towers, register_tower

__all__ = ["DEFAULT_TOWERS", "create_tower", "list_towers", "register_tower"]
