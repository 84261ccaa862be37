"""Batches from in-memory datasets: seeded permutations that resume exactly and shard by rank.

The order of an epoch is a pure function of ``(seed, epoch)``, so a run restarted from a
checkpoint at batch ``start`` of epoch ``epoch`` sees exactly the batches an uninterrupted run
would have seen. ``batch_size`` is per rank, as in DDP: global batch ``k`` is
``perm[k * G:(k + 1) * G]`` with ``G = batch_size * world_size``, and rank ``r`` takes the slice
``[r * batch_size:(r + 1) * batch_size]`` of it, so ranks see disjoint images in equal numbers.
With ``drop_last=False`` the last, short global batch is padded to a multiple of ``world_size``
by wrapping around to the start of the permutation (as ``torch.utils.data.DistributedSampler``
pads) and split equally. Sharded datasets stream through the same ``batches`` call
(``shards/stream.py``).
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from simclip.augment.batch_views import BatchViews
from simclip.data.caption_dataset import CaptionDataset
from simclip.data.image_dataset import ImageDataset
from simclip.data.paired.dataset import PairedDataset
from simclip.data.shards.stream import stream_batches
from simclip.data.shards.webdataset import ShardedDataset
from simclip.data.steps import steps_per_epoch
from simclip.data.videos.dataset import VideoDataset
from simclip.heap import init_loader_worker

# Independent random streams of one (seed, epoch): the order, and the caption chosen per image.
_ORDER_STREAM, _CAPTION_STREAM = 0, 1


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """int64 ``[n]``: the order of epoch ``epoch``, a pure function of ``(n, seed, epoch)``."""
    return torch.from_numpy(_rng(seed, epoch, _ORDER_STREAM).permutation(n))


def batch_indices(n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, epoch: int = 0,
                  start: int = 0, drop_last: bool = True, rank: int = 0,
                  world_size: int = 1) -> Iterator[Tensor]:
    """Yield this rank's int64 index tensors for batches ``start, start + 1, ...`` of an epoch."""
    steps = steps_per_epoch(n, batch_size, drop_last, world_size)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an int in 0..world_size-1 ({world_size - 1}), got {rank!r}")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= steps:
        raise ValueError(f"start must be an int in 0..{steps} (steps per epoch), got {start!r}")
    if n and steps == 0:
        raise ValueError(f"{n} items give no full batch of batch_size * world_size = "
                         f"{batch_size * world_size}; lower batch_size or pass drop_last=False")
    order = epoch_permutation(n, seed, epoch) if shuffle else torch.arange(n)
    return _slices(order, batch_size * world_size, start, steps, rank, world_size)


def _slices(order: Tensor, global_batch: int, start: int, steps: int, rank: int,
            world_size: int) -> Iterator[Tensor]:
    n = len(order)
    for step in range(start, steps):
        chunk = order[step * global_batch:(step + 1) * global_batch]
        if len(chunk) < global_batch:  # only without drop_last: pad, then share equally
            pad = -len(chunk) % world_size
            chunk = torch.cat([chunk, order.repeat(math.ceil(pad / n) + 1)[:pad]])
        per_rank = len(chunk) // world_size
        yield chunk[rank * per_rank:(rank + 1) * per_rank]


def batches(dataset: ImageDataset | CaptionDataset | ShardedDataset | PairedDataset | VideoDataset,
            batch_size: int, *,
            shuffle: bool = True, seed: int = 0, epoch: int = 0, start: int = 0,
            drop_last: bool = True, rank: int = 0, world_size: int = 1,
            views: BatchViews | None = None) -> Iterator[tuple]:
    """Yield this rank's batches of one epoch, from batch ``start`` on (see the module doc).

    For an ``ImageDataset``: ``(images uint8 [B, C, H, W], labels int64 [B] or None)``.
    For a ``CaptionDataset``: ``(images uint8 [B, C, H, W], captions list[str] of length B)``,
    one caption per image drawn at random, again a pure function of ``(seed, epoch)``.
    For a ``ShardedDataset``: the same, streamed from its shards (see ``shards/stream.py``).
    For a ``PairedDataset``: one entry per modality, in its order (``PairedDataset.take``).
    For a ``VideoDataset``: ``(clips uint8 [B, T, 3, S, S], frame numbers int64 [B, T], labels [B] or None)``.

    ``views`` (image and sharded datasets): each batch's images are replaced by their views
    ``[B, V, C, S', S']`` of ``views.dtype``, from the generator of the batch's place in the epoch
    (:class:`~simclip.augment.BatchViews`); the loader's worker processes make them, if it has any.
    """
    if isinstance(dataset, ShardedDataset):
        return stream_batches(dataset, batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                              start=start, drop_last=drop_last, rank=rank, world_size=world_size,
                              views=views)
    if not isinstance(dataset, (ImageDataset, CaptionDataset, PairedDataset)):
        raise TypeError(f"dataset must be an ImageDataset or CaptionDataset (or a ShardedDataset), "
                        f"got {type(dataset).__name__}")
    if views is not None:
        if isinstance(dataset, (PairedDataset, VideoDataset)):
            raise TypeError(f"views are made for image batches, not for a {type(dataset).__name__}")
        workers = getattr(dataset, "workers", 0)
        if workers and isinstance(dataset, ImageDataset):
            indices = batch_indices(len(dataset), batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                                    start=start, drop_last=drop_last, rank=rank, world_size=world_size)
            return _views_in_workers(dataset, list(indices), views, epoch, start, rank, workers)
        items = batches(dataset, batch_size, shuffle=shuffle, seed=seed, epoch=epoch, start=start,
                        drop_last=drop_last, rank=rank, world_size=world_size)
        return _with_views(items, views, epoch, start, rank)
    indices = batch_indices(len(dataset), batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                            start=start, drop_last=drop_last, rank=rank, world_size=world_size)
    if isinstance(dataset, PairedDataset):
        return (dataset.take(idx) for idx in indices)
    if isinstance(dataset, VideoDataset):  # before ImageDataset, which it is too
        clip_labels = dataset.labels
        return ((dataset.clips[idx], dataset.index[idx], None if clip_labels is None else clip_labels[idx])
                for idx in indices)
    if isinstance(dataset, CaptionDataset):
        choice = caption_choices([len(c) for c in dataset.captions], seed, epoch)
        return ((dataset.images[idx], [dataset.captions[i][choice[i]] for i in idx.tolist()])
                for idx in indices)
    labels = dataset.labels
    return ((dataset.images[idx], None if labels is None else labels[idx]) for idx in indices)


def _with_views(items: Iterator[tuple], views: BatchViews, epoch: int, start: int, rank: int) -> Iterator[tuple]:
    for index, (images, *rest) in enumerate(items, start):
        yield views(images, epoch=epoch, batch=index, rank=rank), *rest


class _ViewBatches(IterableDataset):
    """The views of in-memory batches (their indices), batch ``p`` made by worker ``p % workers``
    (the order in which a DataLoader collects them); the workers index the images themselves."""

    def __init__(self, dataset: ImageDataset, indices: list[Tensor], views: BatchViews, epoch: int, start: int,
                 rank: int) -> None:
        self.dataset, self.indices, self.views = dataset, indices, views
        self.epoch, self.start, self.rank = epoch, start, rank

    def __iter__(self) -> Iterator[tuple]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        labels = self.dataset.labels
        for p in range(worker, len(self.indices), workers):
            idx = self.indices[p]
            yield (self.views(self.dataset.images[idx], epoch=self.epoch, batch=self.start + p, rank=self.rank),
                   None if labels is None else labels[idx])


def _views_in_workers(dataset: ImageDataset, indices: list[Tensor], views: BatchViews, epoch: int, start: int,
                      rank: int, workers: int) -> Iterator[tuple]:
    if not indices:
        return iter(())
    stream = _ViewBatches(dataset, indices, views, epoch, start, rank)
    return iter(DataLoader(stream, batch_size=None, num_workers=min(workers, len(indices)),
                           worker_init_fn=init_loader_worker))


def caption_choices(counts: list[int], seed: int, epoch: int) -> list[int]:
    """Which caption each image shows in epoch ``epoch``: ``choice[i]`` in ``range(counts[i])``."""
    uniform = _rng(seed, epoch, _CAPTION_STREAM).random(len(counts))
    return np.minimum((uniform * np.asarray(counts)).astype(np.int64),
                      np.asarray(counts) - 1).tolist()


def _rng(seed: int, epoch: int, stream: int) -> np.random.Generator:
    for name, value in (("seed", seed), ("epoch", epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return np.random.default_rng([seed, epoch, stream])
