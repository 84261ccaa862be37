"""Batch tensor conventions shared by every augmentation op.

A batch is a ``Tensor[B, C, H, W]``: ``uint8`` in ``[0, 255]`` or floating point in ``[0, 1]``,
on any device. Ops compute in ``float32`` and return values in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor

# Float inputs a hair outside [0, 1] come from earlier float arithmetic; anything beyond this is
# almost surely a [0, 255] image passed as float, which would silently saturate every op.
_RANGE_TOLERANCE = 1e-3


def as_float_batch(x: Tensor, name: str = "x") -> Tensor:
    """Validate a batch and return it as ``float32`` in ``[0, 1]``.

    Args:
        x: ``Tensor[B, C, H, W]``, ``uint8`` (divided by 255) or floating point in ``[0, 1]``.
        name: argument name used in error messages.

    Returns:
        ``Tensor[B, C, H, W]`` of dtype ``float32``; ``x`` itself when it already is one.

    Raises:
        TypeError: ``x`` is not a tensor, or has a dtype other than ``uint8`` / floating point.
        ValueError: ``x`` is not 4-D, is empty, or a float ``x`` lies outside ``[0, 1]``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [B, C, H, W], got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape [B, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[1] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{name} must have non-empty C, H, W, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be uint8 in [0, 255] or float in [0, 1], got dtype {x.dtype}")
    if x.numel() > 0:
        extremes = torch.aminmax(x)
        lo, hi = float(extremes.min), float(extremes.max)
        if lo < -_RANGE_TOLERANCE or hi > 1.0 + _RANGE_TOLERANCE or lo != lo or hi != hi:
            raise ValueError(
                f"float {name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                "pass uint8 images or divide by 255"
            )
    return x if x.dtype == torch.float32 else x.to(torch.float32)


def apply_to_selected(
    x: Tensor, selected: Tensor, fn: Callable[[Tensor, Tensor], Tensor], overwrite: bool = False
) -> Tensor:
    """Apply ``fn`` to the selected samples of a batch and keep the others unchanged.

    Only the selected rows are computed, so an op with probability ``p`` costs about ``p`` of
    the full batch instead of computing everything and blending.

    Args:
        x: ``Tensor[B, ...]``, not modified unless ``overwrite``.
        selected: ``bool`` ``Tensor[B]`` on the CPU (drawn from the CPU generator; keeping it
            there avoids a device sync when its indices are extracted).
        fn: ``fn(x_sub, index)`` with ``x_sub = x[index]`` and ``index`` an ``int64`` CPU tensor of
            the selected rows (to index per-sample parameters); returns a tensor shaped like
            ``x_sub``.
        overwrite: write the selected rows into ``x`` itself (the caller owns it) instead of
            into a copy, saving a batch-sized allocation and copy.

    Returns:
        ``Tensor[B, ...]``: ``x`` when no sample is selected or ``overwrite`` is set and only
        some are, else a new tensor.
    """
    if bool(selected.all()):
        return fn(x, torch.arange(x.shape[0]))
    index = selected.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    index_dev = index.to(x.device)
    out = x if overwrite else x.clone()
    return out.index_copy_(0, index_dev, fn(x.index_select(0, index_dev), index))


def check_size(size: int | Sequence[int], name: str = "size") -> tuple[int, int]:
    """Return an output size as ``(height, width)``; an int means a square."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair):
        raise ValueError(f"{name} must be a positive int or a pair (height, width) of them, got {size!r}")
    return pair[0], pair[1]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch's CPU ops on one intra-op thread inside the block, restoring the count after.

    For small or memory-bound ops beside a data loader's worker processes: intra-op threads stall
    at OpenMP barriers whenever a core is busy elsewhere, and idle ones spin on the cores that
    the workers need."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
