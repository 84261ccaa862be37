"""SimCLR's objective (Chen et al. 2020): two (or V) random views per image, NT-Xent on g(f(x))."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from simclip.augment.batch import as_float_batch, one_thread
from simclip.augment.hugepages import empty_cpu
from simclip.augment.batch_views import BatchViews
from simclip.augment.views import n_views
from simclip.data.videos.positives import take_frames, view_frames
from simclip.losses import nt_xent
from simclip.train.objectives.base import SeededObjective


class SimCLRObjective(SeededObjective):
    """Augment each image of a batch ``n_views`` times with independent random parameters, embed all
    ``V*B`` views, and return ``nt_xent(z [V, B, D], temperature)``.

    ``augment`` maps uint8/float ``[B, C, H, W]`` to float ``[B, C, S, S]`` in [0, 1] with a
    ``generator`` keyword; its random stream is seeded by ``seed`` and saved with checkpoints.
    With ``distributed=True`` each rank's anchors are scored against the views of all ranks.

    Batches of clips (``[B, T, C, H, W]`` with frame numbers ``[B, T]``, from a video dataset) give
    each view one frame of its clip: frames at most ``max_gap`` apart (temporal positives), or one
    frame for all views when ``max_gap`` is None (:func:`simclip.data.videos.view_frames`).
    """

    def __init__(self, augment: Callable[..., torch.Tensor], temperature: float = 0.5,
                 n_views: int = 2, seed: int = 0, channels_last: bool = False,
                 distributed: bool = False, max_gap: int | None = None) -> None:
        if n_views < 2:
            raise ValueError(f"n_views must be at least 2, got {n_views}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.augment = augment
        self.temperature = temperature
        self.n_views = n_views
        self.channels_last = channels_last
        self.distributed = distributed
        self.max_gap = max_gap
        self.seed = seed
        self.views_in_batches = False
        super().__init__(seed)

    def loader_views(self, device: torch.device) -> BatchViews | None:
        """On the CPU, the views the data loader should make in place of the images (its worker
        processes then share the augmentation, which on one main process runs on one core); from
        this call on, :meth:`inputs` takes batches of views ``[B, V, C, S, S]``, uint8 (a quarter
        of the bytes of float views to pass from the workers). None on an
        accelerator, where the views of a whole batch are made faster on the device, and for
        video clips."""
        if device.type != "cpu" or self.max_gap is not None:
            return None
        self.views_in_batches = True
        return BatchViews(self.augment, self.n_views, self.seed, dtype=torch.uint8)

    def inputs(self, batch: tuple) -> tuple[torch.Tensor]:
        """``(images [B, C, H, W], ...)``, ``(clips [B, T, C, H, W], frame numbers [B, T], ...)`` or,
        after :meth:`loader_views`, ``(views [B, V, C, S, S], ...)`` -> ``(views [V*B, C, S, S],)``,
        view-major, float in [0, 1]."""
        images = batch[0]
        with torch.autocast(images.device.type, enabled=False):
            if self.views_in_batches and images.ndim == 5:  # [B, V, ...] from the loader
                views = _as_float_views(images.transpose(0, 1).flatten(0, 1))
            elif images.ndim == 5:
                positions = view_frames(batch[1], self.n_views, self.max_gap, self.generator)
                sources = [take_frames(images, p) for p in positions]
                views = torch.cat([self.augment(x, generator=self.generator) for x in sources])
            else:  # one pass over the V copies of the batch (view-major)
                views = n_views(self.augment, images, self.n_views, generator=self.generator).flatten(0, 1)
        if self.channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        return (views,)

    def embed(self, model: nn.Module, inputs: tuple[torch.Tensor]) -> torch.Tensor:
        """Views ``[K, C, S, S]`` -> projections z ``[K, D]``."""
        z: torch.Tensor = model(inputs[0])
        return z

    def loss(self, model: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        z = z.float().view(self.n_views, -1, z.shape[-1])
        loss = nt_xent(z, temperature=self.temperature, distributed=self.distributed)
        return loss, {}


def _as_float_views(views: torch.Tensor) -> torch.Tensor:
    """The loader's views ``[K, C, S, S]`` (uint8, or float in [0, 1]) as float32 in [0, 1]. On the
    CPU the float batch is made in huge pages (faulting in a fresh batch of float views page by
    page costs several times converting them), on one thread: the copy is bound by memory, and
    idle intra-op threads spin on the cores that the loader's workers need."""
    if views.dtype != torch.uint8 or views.device.type != "cpu":
        return as_float_batch(views, "views")
    with one_thread():
        return empty_cpu(tuple(views.shape)).copy_(views).div_(255.0)
