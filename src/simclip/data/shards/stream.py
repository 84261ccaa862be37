"""Batches streamed from tar shards: shard shuffling, rank and worker splits, a shuffle buffer.

The order of an epoch, for a fixed number of ranks and workers, is a pure function of
``(seed, epoch)``:

1. The shard list is permuted by ``(seed, epoch)`` (the same permutation on every rank).
2. Ranks x workers give ``slots``; slot ``rank * workers + worker`` reads shards
   ``order[slot::slots]``. With fewer shards than slots every slot reads all shards and keeps
   the samples whose position in the epoch's stream is ``slot`` modulo ``slots``. Either way the
   slots see disjoint samples that together cover the epoch.
3. Each slot passes its samples through a shuffle buffer (as the ``webdataset`` package and
   OpenCLIP do): a full buffer emits a uniformly drawn element and takes the next sample in its
   place. Images are decoded only when emitted.
4. Batches are made inside each slot; global batch ``j`` of a rank comes from its worker
   ``j % workers``, which is the order in which a DataLoader collects them.

With ``drop_last=True`` (the training loop's setting) every rank yields exactly
``steps_per_epoch(len(dataset), batch_size, True, world_size)`` full batches, so ranks step
together; a slot whose shards run out first reads them again in a new order, as
``DistributedSampler`` pads a short rank, and a slot with more samples than its batches take
leaves the rest for a later epoch's order. With ``drop_last=False`` each slot yields its samples
once, its last batch possibly short. With resampling each slot draws shards with replacement
from all shards, an endless stream of which an epoch takes ``steps_per_epoch`` batches.

Resuming at batch ``start`` replays the epoch's stream without decoding images and drops the
first ``start`` batches. It is exact unless an undecodable image lies in that prefix (the replay
does not notice it, so later batches shift by one sample): hence approximate.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from simclip.augment.batch_views import BatchViews
from simclip.data.shards.decode import BadSample, SampleFormat
from simclip.data.shards.tar_samples import RawSample, ShardError, read_samples
from simclip.data.shards.webdataset import ShardedDataset
from simclip.data.steps import steps_per_epoch
from simclip.heap import init_loader_worker
from simclip.imageio import preload_jpeg_decoder

# Independent random streams of one (seed, epoch).
_SHARD_ORDER, _BUFFER, _RESAMPLE, _CAPTION = 10, 11, 12, 13


@dataclass(frozen=True)
class EpochPlan:
    """Everything one slot needs to produce its part of an epoch (picklable for workers)."""

    shards: tuple[str, ...]
    counts: tuple[int, ...]
    sample_format: SampleFormat
    captions: bool
    batch_size: int
    steps: int | None  # batches per rank; None: one pass over the samples
    start: int
    shuffle: bool
    seed: int
    epoch: int
    rank: int
    world_size: int
    buffer: int
    resample: bool
    strict: bool
    views: BatchViews | None = None  # make each batch's views where the batch is made


class ShardStream(IterableDataset):
    """Yields ``(images uint8 [B, C, S, S], labels int64 [B] | None | captions list[str],
    bad: list[str])`` for the slot of the calling DataLoader worker (or worker 0 of 1); with
    ``plan.views``, its views ``[B, V, C, S', S']`` (uint8 for SimCLR's loader views) in place of the
    images."""

    def __init__(self, plan: EpochPlan) -> None:
        self.plan = plan

    def __iter__(self) -> Iterator[tuple]:
        info = get_worker_info()
        if info is None:
            return slot_batches(self.plan, 0, 1)
        # A DataLoader collects from its worker 0 first, so after skipping `start` batches that
        # worker plays the slot which holds batch `start`.
        return slot_batches(self.plan, (info.id + self.plan.start) % info.num_workers,
                            info.num_workers)


def stream_batches(dataset: ShardedDataset, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                   epoch: int = 0, start: int = 0, drop_last: bool = True, rank: int = 0,
                   world_size: int = 1, views: BatchViews | None = None,
                   ) -> Iterator[tuple[Tensor, Tensor | None | list[str]]]:
    """This rank's batches of one epoch of ``dataset`` from batch ``start`` on (module doc).

    With ``views``, each batch's images are replaced by their views ``[B, V, C, S', S']``, made
    by the worker that decodes the batch (``views(images, epoch=, batch=, rank=)``, batch counted
    within the rank's epoch). Arguments are checked here, before iteration; worker processes start
    at the first batch.
    """
    plan = plan_epoch(dataset, batch_size, shuffle=shuffle, seed=seed, epoch=epoch, start=start,
                      drop_last=drop_last, rank=rank, world_size=world_size, views=views)
    return _counted(dataset, ShardStream(plan), dataset.options.workers)


def plan_epoch(dataset: ShardedDataset, batch_size: int, *, shuffle: bool = True, seed: int = 0,
               epoch: int = 0, start: int = 0, drop_last: bool = True, rank: int = 0,
               world_size: int = 1, views: BatchViews | None = None) -> EpochPlan:
    """Check the arguments of ``stream_batches`` and fix what every slot of the epoch needs."""
    n = len(dataset)
    steps = steps_per_epoch(n, batch_size, drop_last, world_size)
    for name, value in (("seed", seed), ("epoch", epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an int in 0..world_size-1 ({world_size - 1}), got {rank!r}")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= steps:
        raise ValueError(f"start must be an int in 0..{steps} (steps per epoch), got {start!r}")
    if n == 0 or steps == 0:
        raise ValueError(f"{n} items give no full batch of batch_size * world_size = "
                         f"{batch_size * world_size}; lower batch_size or pass drop_last=False")
    options = dataset.options
    return EpochPlan(shards=tuple(map(str, dataset.shards)), counts=tuple(dataset.counts),
                     sample_format=dataset.sample_format, captions=dataset.with_captions,
                     batch_size=batch_size, steps=steps if drop_last or options.resample else None,
                     start=start, shuffle=shuffle, seed=seed, epoch=epoch, rank=rank,
                     world_size=world_size, buffer=options.shuffle_buffer if shuffle else 0,
                     resample=options.resample, strict=options.strict, views=views)


def slot_batches(plan: EpochPlan, worker: int, workers: int) -> Iterator[tuple]:
    """The batches of worker ``worker`` of ``workers`` on rank ``plan.rank``, skipping those
    before ``plan.start``; the last item may be ``(None, None, bad)`` to report bad samples."""
    slot, slots = plan.rank * workers + worker, plan.world_size * workers
    quota = None if plan.steps is None else len(range(worker, plan.steps, workers))
    skip = len(range(worker, plan.start, workers))
    if quota is not None and skip >= quota:
        return
    samples = _buffered(_slot_samples(plan, slot, slots), plan.buffer, _rng(plan, _BUFFER, slots, slot))
    caption_rng = _rng(plan, _CAPTION, slots, slot)
    fmt, made, images, targets, bad, bad_run = plan.sample_format, 0, [], [], [], 0
    for sample in samples:
        replaying = made < skip
        try:
            target = _target(fmt, sample, plan.captions, caption_rng)
            if not replaying:  # a replayed batch is only counted, never decoded
                images.append(fmt.pixels(sample))
        except BadSample as err:
            message = f"{sample.where()}: {err}"
            if plan.strict:
                raise ShardError(message) from None
            bad.append(message)
            bad_run += 1
            if bad_run > sum(plan.counts) + plan.buffer:  # a whole pass without a usable sample
                raise ShardError(
                    f"no usable sample in a whole pass over the shards; last: {message}") from None
            continue
        bad_run = 0
        targets.append(target)
        if len(targets) == plan.batch_size:
            if not replaying:
                yield *_collate(images, targets, plan, worker + made * workers), bad
                bad = []
            made, images, targets = made + 1, [], []
            if made == quota:
                return
    if targets and made >= skip:  # one pass only: the slot's last, short batch
        yield *_collate(images, targets, plan, worker + made * workers), bad
    elif bad:
        yield None, None, bad


def _counted(dataset: ShardedDataset, stream: ShardStream, workers: int) -> Iterator[tuple]:
    # Workers hand batches over in shared memory; with a GPU they land in pinned memory, so the
    # training loop's non_blocking copy to the device overlaps the step.
    if workers > 0:
        preload_jpeg_decoder()  # imported once here, not in every worker of every epoch
    items = iter(stream) if workers == 0 else \
        iter(DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=torch.cuda.is_available(),
                        worker_init_fn=init_loader_worker))
    for images, targets, bad in items:
        dataset.record_bad(bad)
        if images is not None:
            yield images, targets


def _slot_samples(plan: EpochPlan, slot: int, slots: int) -> Iterator[RawSample]:
    """The raw samples of one slot, in read order; endless when cycling or resampling."""
    if plan.resample:
        draw = _rng(plan, _RESAMPLE, slots, slot)
        while True:
            yield from _checked(plan, int(draw.integers(len(plan.shards))))
    order = _shard_order(plan, 0)
    modulo = len(order) < slots
    mine = order if modulo else order[slot::slots]
    for passes in itertools.count(1):
        position = produced = 0
        for shard in mine:
            for sample in _checked(plan, shard):
                if not modulo or position % slots == slot:
                    produced += 1
                    yield sample
                position += 1
        if plan.steps is None:
            return
        if produced == 0:
            raise ShardError(f"rank {plan.rank} gets no samples: {sum(plan.counts)} samples "
                             f"are fewer than ranks x workers ({slots})")
        # The next pass reads the same shards (so slots stay disjoint) in a new order.
        kept = set(mine)
        mine = [s for s in _shard_order(plan, passes) if s in kept]

def _checked(plan: EpochPlan, shard: int) -> Iterator[RawSample]:
    """The samples of shard ``shard``; raises if it holds other than the indexed count."""
    count = 0
    for sample in read_samples(plan.shards[shard]):
        count += 1
        yield sample
    if count != plan.counts[shard]:
        raise ShardError(f"{plan.shards[shard]}: holds {count} samples, but the index says "
                         f"{plan.counts[shard]}; the shard was truncated or changed")


def _shard_order(plan: EpochPlan, passes: int) -> list[int]:
    if not plan.shuffle:
        return list(range(len(plan.shards)))
    rng = np.random.default_rng([plan.seed, plan.epoch, _SHARD_ORDER, passes])
    return rng.permutation(len(plan.shards)).tolist()


def _buffered(samples: Iterator[RawSample], size: int,
              rng: np.random.Generator) -> Iterator[RawSample]:
    """Shuffle a stream with a buffer of ``size`` samples (no shuffling when ``size <= 1``)."""
    if size <= 1:
        yield from samples
        return
    buffer: list[RawSample] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        j = int(rng.integers(size))
        yield buffer[j]
        buffer[j] = sample
    rng.shuffle(buffer)
    yield from buffer


def _target(fmt: SampleFormat, sample: RawSample, captions: bool,
            rng: np.random.Generator) -> int | str | None:
    if sample.image_field() is None:
        fmt.pixels(sample)  # raises BadSample naming the missing image
    if not captions:
        return fmt.label(sample)
    options = fmt.captions(sample)
    return options[int(rng.integers(len(options)))]


def _collate(images: list[np.ndarray], targets: list, plan: EpochPlan, index: int) -> tuple:
    """Batch ``index`` (within the rank's epoch): images ``[B, C, S, S]`` (or their views) and
    targets."""
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # channels-last strides
    if plan.views is not None:  # cropped from channels-last images, torch's fastest 8-bit layout
        batch = plan.views(batch, epoch=plan.epoch, batch=index, rank=plan.rank)
    else:
        batch = batch.contiguous()
    if plan.captions:
        return batch, targets
    if not plan.sample_format.labelled:
        return batch, None
    return batch, torch.tensor(targets, dtype=torch.int64)


def _rng(plan: EpochPlan, stream: int, slots: int, slot: int) -> np.random.Generator:
    return np.random.default_rng([plan.seed, plan.epoch, stream, slots, slot])
