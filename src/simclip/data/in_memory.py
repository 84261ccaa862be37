"""A dataset held whole in memory, for the code that indexes ``images`` and ``labels`` directly
(one image to augment, fine-tuning, zero-shot, retrieval, plots, attacks): ``wds:`` shards, which
the loaders stream, are read into memory first."""

from __future__ import annotations

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.image_dataset import ImageDataset
from simclip.data.shards.webdataset import ShardedDataset


def images_in_memory(dataset: ImageDataset | CaptionDataset | ShardedDataset,
                     limit: int | None = None) -> ImageDataset:
    """``dataset`` as an ``ImageDataset`` (images uint8 ``[N, C, S, S]``, labels ``[N]`` or None);
    streamed shards give their first ``limit`` usable samples (all when None)."""
    if isinstance(dataset, ShardedDataset):
        return images_in_memory(dataset.to_memory(limit))
    return dataset.as_image_dataset() if isinstance(dataset, CaptionDataset) else dataset


def captions_in_memory(dataset: CaptionDataset | ShardedDataset, limit: int | None = None) -> CaptionDataset:
    """``dataset`` as a ``CaptionDataset``; streamed shards (loaded for their captions) give their
    first ``limit`` usable samples (all when None)."""
    if not isinstance(dataset, ShardedDataset):
        return dataset
    memory = dataset.to_memory(limit)
    if not isinstance(memory, CaptionDataset):
        raise TypeError(f"{dataset.name}: the shards were not loaded with captions "
                        "(use simclip.data.load_caption_dataset)")
    return memory


__all__ = ["captions_in_memory", "images_in_memory"]
