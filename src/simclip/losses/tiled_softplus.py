"""Tiled sum of softplus over a scaled matrix product (the SigLIP core), recomputing in backward.

SigLIP's loss is sum_ij softplus(L_ij) - sum_i L_ii (see ``siglip.py``); only the first term needs
every pair, and it needs no statistics at all: forward sums tiles, backward recomputes each tile
and uses d softplus(x) / dx = sigmoid(x).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from simclip.losses.blocks import TileBuffer, product_gradients, spans, tile_logits


class TiledSoftplusSum(torch.autograd.Function):
    """sum_ij softplus(scale * q_i . k_j + col_bias_j) as a 0-dim tensor, in tiles of block_size."""

    @staticmethod
    def forward(ctx: Any, q: Tensor, k: Tensor, scale: Tensor,
                col_bias: Tensor | None, block_size: int) -> Tensor:
        total = torch.zeros((), dtype=q.dtype, device=q.device)
        main = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q)
        for rows in spans(q.shape[0], block_size):
            q_rows = q[rows] * scale
            for cols in spans(k.shape[0], block_size):
                shape = (rows.stop - rows.start, cols.stop - cols.start)
                bias = None if col_bias is None else col_bias[cols]
                tile = tile_logits(q_rows, k[cols], main.tile(*shape), bias)
                total += F.softplus(tile).sum()
        ctx.save_for_backward(q, k, scale, col_bias)
        ctx.block_size = block_size
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        q, k, scale, col_bias = ctx.saved_tensors

        def tile_gradient(tile: Tensor, rows: slice, cols: slice, scratch: Tensor) -> Tensor:
            return tile.sigmoid_().mul_(grad)

        dq, dk, dscale, dbias = product_gradients(q, k, scale, col_bias, None, ctx.block_size, tile_gradient)
        return dq, dk, dscale, dbias, None
