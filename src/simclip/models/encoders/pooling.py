"""Global average pooling whose backward hands the next layer a dense gradient.

``x.mean(dim=(2, 3))`` differentiates to a stride-0 broadcast of ``[B, C]``; the ReLU and
BatchNorm backward kernels that receive it fall off their vectorised paths (on the CPU build,
BENCHMARKS.md, "SimCLR on MNIST", speed of the loop). Materialising the gradient in the input's
memory format once costs less than that.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _GlobalAvgPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.shape = x.shape
        ctx.channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        return x.mean(dim=(2, 3))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        n, c, h, w = ctx.shape
        fmt = torch.channels_last if ctx.channels_last else torch.contiguous_format
        return (grad / (h * w))[:, :, None, None].expand(n, c, h, w).contiguous(memory_format=fmt)


def global_avg_pool(x: Tensor) -> Tensor:
    """Mean over the spatial dimensions: ``[B, C, H, W]`` -> ``[B, C]``, same values and gradient
    as ``x.mean(dim=(2, 3))``."""
    if x.dim() != 4:
        raise ValueError(f"global_avg_pool expects [B, C, H, W], got shape {tuple(x.shape)}")
    return _GlobalAvgPool.apply(x)
