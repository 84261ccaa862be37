"""SimCLR's views made where a batch is made: in the data loader's worker processes.

On the CPU the views are most of the input pipeline's work. Made in the main process they run on
one core however many workers decode; made by each worker for the batches it assembles, they
run on as many cores as there are workers. Their random parameters then cannot come from one
stream in the main process (workers run ahead and in parallel): each batch draws from its own
generator, seeded by ``(seed, epoch, rank, batch)``, so the views of a batch do not depend on
which process made them, on the number of workers, or on where a resumed run restarted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from simclip.augment.views import n_views


@dataclass(frozen=True)
class BatchViews:
    """``n`` views of every image of a batch, from a generator seeded by the batch's place.

    Attributes:
        policy: the augmentation, called as ``policy(x, generator=g)`` (picklable, e.g. a
            :class:`~simclip.augment.Compose` from :func:`~simclip.augment.create_policy`).
        n: views per image, ``>= 1``.
        seed: the run's seed.
        dtype: ``float32`` (in ``[0, 1]``) or ``uint8``: ``round(255 v)`` of the float views
            ``v``, a quarter of the bytes for a worker to hand to the main process (the
            precision of the 8-bit images they are made from).
    """

    policy: Callable[..., Tensor]
    n: int = 2
    seed: int = 0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"n must be a positive int, got {self.n!r}")
        if self.dtype not in (torch.float32, torch.uint8):
            raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {self.dtype!r}")

    def generator(self, epoch: int, batch: int, rank: int = 0) -> torch.Generator:
        """The CPU generator of batch ``batch`` of epoch ``epoch`` on rank ``rank``."""
        state = np.random.SeedSequence([self.seed, epoch, rank, batch, 0x5EED]).generate_state(1, np.uint64)
        return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))

    def __call__(self, images: Tensor, *, epoch: int, batch: int, rank: int = 0) -> Tensor:
        """``images`` ``[B, C, H, W]`` (uint8 or float in [0, 1]) -> views ``[B, n, C, S, S]`` of
        :attr:`dtype`: ``out[i, v]`` is view ``v`` of image ``i``. The result is a transposed
        view of view-major memory, so ``out.transpose(0, 1)`` (``[n, B, ...]``) is contiguous."""
        generator = self.generator(epoch, batch, rank)
        return n_views(self.policy, images, self.n, generator=generator, dtype=self.dtype).transpose(0, 1)
