"""Tiled row (and column) log-sum-exp of a scaled matrix product, with a recomputing backward.

This is the memory-light core of InfoNCE, the CLIP loss and distributed NT-Xent: all of them are
``mean(logsumexp) - mean(positive logit)``, and only the log-sum-exp needs the full [N, M] logit
matrix. Forward keeps O(N + M) statistics; backward recomputes each tile, so peak memory is
O((N + M) d + block^2) instead of O(N M).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from simclip.losses.blocks import (
    LOG2E,
    RunningLogSumExp2,
    TileBuffer,
    mask_columns,
    product_gradients,
    spans,
    tile_logits,
    tile_shift,
)


def _forward_statistics(
    q: Tensor,
    k: Tensor,
    scale: Tensor,
    col_bias: Tensor | None,
    exclude: Tensor | None,
    with_cols: bool,
    block_size: int,
) -> tuple[Tensor, Tensor | None]:
    unit = scale * LOG2E  # tiles in base-2 units, see blocks.py
    bias_tile = None if col_bias is None else col_bias * LOG2E
    rows_lse = RunningLogSumExp2(q.shape[0], q)
    cols_lse = RunningLogSumExp2(k.shape[0], q) if with_cols else None
    main = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q)
    scratch = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q) if with_cols else None
    for rows in spans(q.shape[0], block_size):
        q_rows = q[rows] * unit
        for cols in spans(k.shape[0], block_size):
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            bias = None if bias_tile is None else bias_tile[cols]
            tile = tile_logits(q_rows, k[cols], main.tile(*shape), bias)
            if exclude is not None:
                mask_columns(tile, exclude[rows], cols.start)
            if cols_lse is not None:
                cols_lse.add(cols, tile, dim=0, scratch=scratch.tile(*shape))
            rows_lse.add(rows, tile, dim=1)  # last use of the tile: exponentiate in place
    return rows_lse.result(), None if cols_lse is None else cols_lse.result()


class TiledLogSumExp(torch.autograd.Function):
    """(row_lse [N], col_lse [M]) of L = scale * q @ k.T + col_bias, L[i, exclude[i]] removed.

    With G = g_row[:, None] * softmax_rows(L) + g_col[None, :] * softmax_cols(L), the gradient
    with respect to L, backward forms dq, dk, dscale and dcol_bias tile by tile.
    """

    @staticmethod
    def forward(ctx, q, k, scale, col_bias, exclude, with_cols: bool, block_size: int):  # type: ignore[override]
        row_lse, col_lse = _forward_statistics(q, k, scale, col_bias, exclude, with_cols, block_size)
        ctx.save_for_backward(q, k, scale, col_bias, exclude, row_lse, col_lse)
        ctx.block_size = block_size
        return (row_lse, col_lse) if with_cols else row_lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_rows, grad_cols=None):  # type: ignore[override]
        q, k, scale, col_bias, exclude, row_lse, col_lse = ctx.saved_tensors
        row_shift, row_weight = tile_shift(row_lse, grad_rows)
        if col_lse is None:
            # rows only: the recomputing product subtracts the row shift itself
            def tile_gradient(tile: Tensor, rows: slice, cols: slice, scratch: Tensor) -> Tensor:
                grad = tile.exp2_()
                return grad if row_weight is None else grad.mul_(row_weight[rows].unsqueeze(1))

            grads = product_gradients(
                q, k, scale, col_bias, exclude, ctx.block_size, tile_gradient, row_bias=-row_shift, tile_factor=LOG2E
            )
            return *grads, None, None, None
        col_shift, col_weight = tile_shift(col_lse, grad_cols)

        def dual_tile_gradient(tile: Tensor, rows: slice, cols: slice, scratch: Tensor) -> Tensor:
            by_cols = torch.sub(tile, col_shift[cols].unsqueeze(0), out=scratch).exp2_()
            if col_weight is not None:
                by_cols.mul_(col_weight[cols].unsqueeze(0))
            grad = tile.sub_(row_shift[rows].unsqueeze(1)).exp2_()
            if row_weight is not None:
                grad.mul_(row_weight[rows].unsqueeze(1))
            return grad.add_(by_cols)

        grads = product_gradients(
            q, k, scale, col_bias, exclude, ctx.block_size, dual_tile_gradient, tile_factor=LOG2E
        )
        return *grads, None, None, None
