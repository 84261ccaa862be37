"""Several independently augmented views of each image of a batch (SimCLR's positive pairs)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from simclip.augment.compose import Compose


def n_views(
    policy: Callable[..., Tensor],
    x: Tensor,
    n: int = 2,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Augment every image ``n`` times with independent random parameters, in one policy call.

    The batch is tiled ``n`` times and augmented as one batch of ``n * B`` samples, so each view
    of each image gets its own parameters and the ops run once on the large batch.

    Args:
        policy: called as ``policy(x, generator=g)``, e.g. from :func:`create_policy`.
        x: ``Tensor[B, C, H, W]``, ``uint8`` or float in ``[0, 1]``.
        n: number of views, ``>= 1``.
        generator: CPU generator supplying all randomness.
        dtype: ``float32`` (in ``[0, 1]``) or ``uint8`` (``round(255 v)`` of the float views).

    Returns:
        ``Tensor[n, B, C, S, S]`` of ``dtype``: ``out[v, i]`` is view ``v`` of image ``i``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a Tensor of shape [B, C, H, W], got {shape}")
    b = x.shape[0]
    if dtype not in (torch.float32, torch.uint8):
        raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype!r}")
    if isinstance(policy, Compose):
        out = policy(x, generator=generator, repeats=n, dtype=dtype)
    else:
        out = policy(x.repeat(n, *[1] * (x.ndim - 1)), generator=generator)
        if dtype == torch.uint8:
            out = torch.mul(out, 255.0).round_().to(dtype)
    return out.view(n, b, *out.shape[1:])


def two_views(policy: Callable[..., Tensor], x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """SimCLR's pair of views: ``Tensor[2, B, C, S, S]`` (see :func:`n_views`)."""
    return n_views(policy, x, 2, generator)
