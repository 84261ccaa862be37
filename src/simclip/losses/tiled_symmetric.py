"""Tiled row log-sum-exp of a symmetric Gram matrix with its diagonal removed (the NT-Xent core).

For NT-Xent all anchors are also all candidates: L = scale * z @ z.T is symmetric, so only the
tiles on and above the diagonal are computed. An off-diagonal tile (a, b) serves twice: its rows
update the statistics of block a and its columns those of block b. This halves the matrix-product
work of both passes compared with treating z and z.T as unrelated matrices.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from simclip.losses.blocks import LOG2E, RunningLogSumExp2, TileBuffer, spans, tile_logits, tile_shift


def _upper_blocks(n: int, block_size: int) -> list[tuple[slice, list[slice]]]:
    """Each row block with the column blocks on and above the diagonal."""
    blocks = spans(n, block_size)
    return [(rows, blocks[i:]) for i, rows in enumerate(blocks)]


def _forward_statistics(z: Tensor, scale: Tensor, block_size: int) -> Tensor:
    unit = scale * LOG2E  # tiles in base-2 units, see blocks.py
    stats = RunningLogSumExp2(z.shape[0], z)
    side = min(block_size, z.shape[0])
    main, scratch = TileBuffer(side, side, z), TileBuffer(side, side, z)
    for rows, later in _upper_blocks(z.shape[0], block_size):
        z_rows = z[rows] * unit
        for cols in later:
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            tile = tile_logits(z_rows, z[cols], main.tile(*shape))
            if rows == cols:
                tile.fill_diagonal_(float("-inf"))
            else:
                stats.add(cols, tile, dim=0, scratch=scratch.tile(*shape))
            stats.add(rows, tile, dim=1)
    return stats.result()


class TiledSymmetricLogSumExp(torch.autograd.Function):
    """row_lse [N] of L = scale * z @ z.T with L[i, i] removed.

    With G = g[:, None] * softmax_rows(L), dz = scale * (G + G.T) @ z and
    dscale = sum(G * z @ z.T) = 0.5 * sum(z * (G + G.T) @ z). For tile (a, b) above the diagonal,
    (G + G.T)[a, b] = g_a exp(L_ab - lse_a) + g_b exp(L_ab - lse_b) (L is symmetric), which feeds
    both dz[a] (times z[b]) and dz[b] (its transpose times z[a]).
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, scale: Tensor, block_size: int) -> Tensor:
        lse = _forward_statistics(z, scale, block_size)
        ctx.save_for_backward(z, scale, lse)
        ctx.block_size = block_size
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        z, scale, lse = ctx.saved_tensors
        shift, weight = tile_shift(lse, grad)
        unit = scale * LOG2E
        sym_grad_z = torch.zeros_like(z)  # (G + G.T) @ z, the scale applied at the end
        side = min(ctx.block_size, z.shape[0])
        main, scratch = TileBuffer(side, side, z), TileBuffer(side, side, z)
        for rows, later in _upper_blocks(z.shape[0], ctx.block_size):
            z_rows = z[rows] * unit
            for cols in later:
                shape = (rows.stop - rows.start, cols.stop - cols.start)
                tile = tile_logits(z_rows, z[cols], main.tile(*shape))
                if rows == cols:
                    tile.fill_diagonal_(float("-inf"))
                by_rows = torch.sub(tile, shift[rows].unsqueeze(1), out=scratch.tile(*shape)).exp2_()
                by_cols = tile.sub_(shift[cols].unsqueeze(0)).exp2_()
                if weight is not None:
                    by_rows.mul_(weight[rows].unsqueeze(1))
                    by_cols.mul_(weight[cols].unsqueeze(0))
                sym = by_cols.add_(by_rows)
                sym_grad_z[rows].addmm_(sym, z[cols])
                if rows != cols:
                    sym_grad_z[cols].addmm_(sym.T, z[rows])
        dscale = 0.5 * torch.dot(z.reshape(-1), sym_grad_z.reshape(-1))
        return sym_grad_z.mul_(scale), dscale, None
