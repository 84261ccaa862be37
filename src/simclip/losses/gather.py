"""The one piece of collective code in simclip: an all-gather that passes gradients back.

The losses use the "local loss" layout (OpenCLIP's ``local_loss=True, gather_with_grad=True``):
rank r computes the loss of its own n anchor rows against the gathered columns of all ranks, with
its positives at column offset ``r * n``, and returns the mean over its own anchors.

Why that reduction gives DDP exactly the single-process gradient: call F the single-process loss
on the concatenated batch of W*n anchors (a mean over anchors), and F_r rank r's local mean, so
sum_r F_r = W * F. A feature x_r of rank r enters F_r as an anchor row and every F_s as a gathered
column; the backward of :func:`all_gather_with_grad` sums (all-reduces) the column gradients of
all ranks, so rank r receives d(sum_s F_s)/dx_r = W * dF/dx_r. DDP then averages the parameter
gradients over the W ranks, which leaves exactly dF/dtheta. A gather whose backward only keeps
the local slice of the gradient (no all-reduce) silently drops the terms from the other ranks'
anchors -- the lightly issue #1528.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the default process group, or (0, 1) when none is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def resolve_distributed(distributed: bool | None) -> bool:
    """``distributed`` as given, or (for None) whether a process group with world size > 1 exists."""
    if distributed is None:
        return rank_and_world()[1] > 1
    return bool(distributed)


def _check_same_shape_everywhere(x: Tensor, world: int) -> None:
    shape = torch.tensor(list(x.shape), dtype=torch.long, device=x.device)
    shapes = [torch.empty_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    found = [tuple(s.tolist()) for s in shapes]
    if any(s != found[0] for s in found):
        raise ValueError(f"all_gather_with_grad needs the same x shape on every rank, got {found} by rank")


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        rank, world = rank_and_world()
        _check_same_shape_everywhere(x, world)
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = rank, x.shape[0]
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        # Every rank's loss depends on every rank's x through the gathered columns: sum them all.
        total = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` [n, ...] from all ranks in rank order into [world * n, ...], differentiably.

    Backward all-reduces (sums) the incoming gradient over ranks and returns this rank's slice, so
    gradients from the other ranks' losses reach this rank's ``x``. Every rank must call it with
    the same shape. Identity when torch.distributed is not initialised or the world size is 1.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to gather along")
    if rank_and_world()[1] == 1:
        return x
    gathered: Tensor = _AllGatherWithGrad.apply(x)
    return gathered
