"""A chain of batched augmentation ops, with input conversion and a final output size."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.augment.base import RandomOp
from simclip.augment.batch import as_float_batch, check_size
from simclip.augment.sampling import check_generator

BatchOp = Callable[..., Tensor]
"""Anything called as ``op(x, generator=g)`` on a ``float32 Tensor[B, C, H, W]``."""


class Compose:
    """Apply ops in order to a batch, each drawing from the same generator.

    The input is validated and converted to ``float32`` in ``[0, 1]`` once (``uint8`` is divided
    by 255). If ``size`` is set and the ops leave another spatial size, the batch is resized
    bilinearly (antialiased) at the end.

    Args:
        ops: callables ``op(x, generator=g) -> Tensor``, e.g. :class:`RandomOp` instances.
        size: output ``(height, width)`` or side; ``None`` keeps what the ops produce.
        channels: if set, the number of channels the input must have.
    """

    def __init__(
        self,
        ops: Iterable[BatchOp],
        size: int | Sequence[int] | None = None,
        channels: int | None = None,
    ) -> None:
        self.ops = tuple(ops)
        for i, op in enumerate(self.ops):
            if not callable(op):
                raise TypeError(f"ops[{i}] must be callable as op(x, generator=g), got {op!r}")
        self.size = None if size is None else check_size(size)
        if channels is not None and (not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be None or a positive int, got {channels!r}")
        self.channels = channels

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch.

        Args:
            x: ``Tensor[B, C, H, W]``, ``uint8`` or float in ``[0, 1]``, CPU or CUDA.
            generator: CPU generator supplying all randomness (``None``: torch's global one).

        Returns:
            ``float32`` ``Tensor[B, C, S_h, S_w]`` in ``[0, 1]`` on ``x``'s device, where
            ``(S_h, S_w)`` is ``size`` if set, else the size the ops produce.
        """
        check_generator(generator)
        given = x
        x = as_float_batch(x)
        if self.channels is not None and x.shape[1] != self.channels:
            raise ValueError(
                f"this policy expects images with {self.channels} channel(s), got x of shape "
                f"{tuple(x.shape)}"
            )
        # Once x is a tensor made here (converted, or returned new by an op), ops may overwrite
        # it instead of copying; the caller's tensor and outputs of plain callables are not.
        owned = x is not given
        for op in self.ops:
            if isinstance(op, RandomOp):
                out = op.transform(x, generator, overwrite=owned)
                owned = owned or out is not x
            else:
                out = op(x, generator=generator)
                owned = False
            x = out
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
            x = x.clamp_(0.0, 1.0)
        return x.contiguous()

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        lines = [f"    {op!r}," for op in self.ops]
        header = f"Compose(size={self.size}, channels={self.channels}, ops=["
        return "\n".join([header, *lines, "])"])
