"""Tiled row (and column) log-sum-exp of a scaled matrix product, with a tiled backward.

This is the memory-light core of InfoNCE, the CLIP loss and distributed NT-Xent: all of them are
``mean(logsumexp) - mean(positive logit)``, and only the log-sum-exp needs the full [N, M] logit
matrix. Forward keeps O(N + M) statistics; backward either recomputes each tile (peak memory
O((N + M) d + block^2)) or, with ``keep=True``, reuses the tiles forward kept (N * M elements,
one matrix product per tile less).

One exponential per element and pass. Each tile S (base-2 logits, see ``blocks.py``) is
exponentiated once, against its own row maxima r: E = 2^(S - r). Its row sums merge into the row
statistics; its column sums come from one matrix-vector product, sum_i E_ij 2^(r_i - C) with C the
tile's largest r. Backward writes the gradient with respect to the logits as

    G_ij = w_i 2^(S_ij - lse_i) + u_j 2^(S_ij - lse'_j) = a_i E_ij (b_i + c_j),
    a_i = 2^(r_i - K), b_i = w_i 2^(K - lse_i), c_j = u_j 2^(K - lse'_j),

so a tile costs one exp2 (none when kept), one broadcast add and one multiply; the row factor a
rides on the thin operands of the two products. Both tricks need the exponents involved to lie
within 2^+-80 of a common reference; the forward checks that every column sum stayed a normal
float and the backward that all exponents span at most 160 (base 2), and otherwise they fall
back to the two-exponential computation, which has no such limit. Only extreme logits trip the
checks (tiles whose values spread over more than ~55 nats, e.g. unit vectors with cosines near
-1 and +1 at logit_scale 100); tests/losses/test_tiled_lse_ranges.py forces both fallbacks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from simclip.losses.blocks import (
    LOG2E,
    RunningLogSumExp2,
    TileBuffer,
    finite_shift,
    mask_columns,
    product_gradients,
    spans,
    tile_logits,
    tile_shift,
)
from simclip.losses.workspace import LogitWorkspace

# A column sum of a tile below 2^-80 (relative to the tile's largest row maximum) may have lost
# terms to underflow: recompute the statistics the exact way.
_TINY_COLUMN_SUM = 2.0**-80
# Largest spread of the exponents that backward's factorisation combines: each factor within
# 2^+-80 of the midpoint keeps every intermediate a normal float32, with room for loss weights
# down to 2^-40.
_MAX_EXPONENT_SPREAD = 160.0


class _Tiles:
    """Tile storage: forward's exponentiated tiles back to back in walking order (row blocks,
    then column blocks), each contiguous; or one reusable buffer when nothing is kept."""

    def __init__(self, n: int, m: int, block_size: int, like: Tensor, keep: bool,
                 workspace: LogitWorkspace | None = None) -> None:
        self.m, self.keep = m, keep
        if keep and workspace is not None:
            self.flat = workspace.claim(n * m, like, self)
        else:
            size = n * m if keep else min(block_size, n) * min(block_size, m)
            self.flat = torch.empty(size, dtype=like.dtype, device=like.device)

    def tile(self, rows: slice, cols: slice) -> Tensor:
        height, width = rows.stop - rows.start, cols.stop - cols.start
        start = rows.start * self.m + height * cols.start if self.keep else 0
        return self.flat[start : start + height * width].view(height, width)


def _exact_statistics(q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None, exclude: Tensor | None,
                      with_cols: bool, block_size: int) -> tuple[Tensor, Tensor | None]:
    """Row/column log-sum-exp with one exponential per direction: no range assumption."""
    unit = scale * LOG2E
    bias_tile = None if col_bias is None else col_bias * LOG2E
    rows_lse = RunningLogSumExp2(q.shape[0], q)
    cols_lse = RunningLogSumExp2(k.shape[0], q) if with_cols else None
    main = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q)
    scratch = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q)
    for rows in spans(q.shape[0], block_size):
        q_rows = q[rows] * unit
        for cols in spans(k.shape[0], block_size):
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            tile = tile_logits(q_rows, k[cols], main.tile(*shape), None if bias_tile is None else bias_tile[cols])
            if exclude is not None:
                mask_columns(tile, exclude[rows], cols.start)
            if cols_lse is not None:
                cols_lse.add(cols, tile, dim=0, scratch=scratch.tile(*shape))
            rows_lse.add(rows, tile, dim=1)
    return rows_lse.result(), None if cols_lse is None else cols_lse.result()


def _forward_statistics(q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None, exclude: Tensor | None,
                        with_cols: bool, block_size: int, tiles: _Tiles
                        ) -> tuple[Tensor, Tensor | None, Tensor, bool]:
    """(row_lse, col_lse or None, row maxima [column blocks, N], columns_ok) in one exp per element.

    Leaves E = 2^(S - r) in ``tiles`` (kept ones survive for backward).
    """
    unit = scale * LOG2E  # tiles in base-2 units, see blocks.py
    bias_tile = None if col_bias is None else col_bias * LOG2E
    col_spans = spans(k.shape[0], block_size)
    rows_lse = RunningLogSumExp2(q.shape[0], q)
    cols_lse = RunningLogSumExp2(k.shape[0], q) if with_cols else None
    row_shift = torch.empty(len(col_spans), q.shape[0], dtype=q.dtype, device=q.device)
    too_small = torch.zeros((), dtype=torch.bool, device=q.device)
    for rows in spans(q.shape[0], block_size):
        q_rows = q[rows] * unit
        for index, cols in enumerate(col_spans):
            bias = None if bias_tile is None else bias_tile[cols]
            tile = tile_logits(q_rows, k[cols], tiles.tile(rows, cols), bias)
            if exclude is not None:
                mask_columns(tile, exclude[rows], cols.start)
            tile_max = tile.amax(1)
            shift = finite_shift(tile_max)
            row_shift[index, rows] = shift
            exps = tile.sub_(shift.unsqueeze(1)).exp2_()
            rows_lse.merge(rows, tile_max, exps.sum(1))
            if cols_lse is not None:
                top = finite_shift(tile_max.max())  # C; rows that are all -inf have E = 0
                col_sum = torch.mv(exps.T, (shift - top).exp2())
                cols_lse.merge(cols, top.expand(col_sum.shape[0]), col_sum)
                too_small |= (col_sum < _TINY_COLUMN_SUM).any()
    col_lse = None if cols_lse is None else cols_lse.result()
    return rows_lse.result(), col_lse, row_shift, not bool(too_small)


def _factored_gradients(q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None, exclude: Tensor | None,
                        block_size: int, tiles: _Tiles, row_shift: Tensor, row_lse: Tensor,
                        col_lse: Tensor | None, grad_rows: Tensor, grad_cols: Tensor | None,
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor | None] | None:
    """dq, dk, dscale, dcol_bias with G = a_i E_ij (b_i + c_j) (see the module docstring), or None
    when the exponents span too wide a range for the factorisation. Rows only, G = E_ij a_i b_i
    is a row scaling with no range limit."""
    lse_rows = row_lse * LOG2E
    lse_cols = None if col_lse is None else col_lse * LOG2E
    reference = torch.zeros((), dtype=q.dtype, device=q.device)
    if lse_cols is not None:
        finite = torch.cat([row_shift.reshape(-1), lse_rows, lse_cols])
        finite = finite[torch.isfinite(finite)]
        if finite.numel():
            low, high = finite.min(), finite.max()
            if float(high - low) > _MAX_EXPONENT_SPREAD:
                return None
            reference = 0.5 * (low + high)

    def weights(lse: Tensor, grad: Tensor) -> Tensor:
        # a line that is entirely -inf has no softmax and sends back no gradient
        return torch.where(torch.isfinite(lse), grad * (reference - lse).exp2(), torch.zeros_like(lse))

    b = weights(lse_rows, grad_rows) if lse_cols is not None else None
    c = None
    if lse_cols is not None:
        assert grad_cols is not None  # autograd passes one gradient per output
        c = weights(lse_cols, grad_cols)
    unit = scale * LOG2E
    bias_tile = None if col_bias is None else col_bias * LOG2E
    gk, gq = torch.zeros_like(q), torch.zeros_like(k)  # G @ k and G.T @ q
    dbias = None if col_bias is None else torch.zeros_like(col_bias)
    scratch = TileBuffer(min(block_size, q.shape[0]), min(block_size, k.shape[0]), q) if c is not None else None
    col_spans = spans(k.shape[0], block_size)
    for rows in spans(q.shape[0], block_size):
        q_rows = None if tiles.keep else q[rows] * unit
        for index, cols in enumerate(col_spans):
            shift = row_shift[index, rows]
            if tiles.keep:
                exps = tiles.tile(rows, cols)
            else:
                bias = None if bias_tile is None else bias_tile[cols]
                assert q_rows is not None  # computed whenever the tiles are not kept
                exps = tile_logits(q_rows, k[cols], tiles.tile(rows, cols), bias, -shift)
                if exclude is not None:
                    mask_columns(exps, exclude[rows], cols.start)
                exps.exp2_()
            if c is None:  # w_i 2^(r_i - lse_i), a line that is entirely -inf sends back nothing
                lse = lse_rows[rows]
                row_factor = torch.where(torch.isfinite(lse), grad_rows[rows] * (shift - lse).exp2(), 0.0)
            else:
                assert b is not None and scratch is not None  # both set with c
                row_factor = (shift - reference).exp2()
                exps.mul_(torch.add(b[rows].unsqueeze(1), c[cols].unsqueeze(0), out=scratch.tile(*exps.shape)))
            gk[rows].addcmul_(row_factor.unsqueeze(1), exps @ k[cols])
            weighted_rows = q[rows] * row_factor.unsqueeze(1)
            gq[cols].addmm_(exps.T, weighted_rows)
            if dbias is not None:
                dbias[cols] += torch.mv(exps.T, row_factor)
    dscale = torch.dot(q.reshape(-1), gk.reshape(-1))
    return gk.mul_(scale), gq.mul_(scale), dscale, dbias


def _exact_gradients(q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None, exclude: Tensor | None,
                     block_size: int, row_lse: Tensor, col_lse: Tensor | None, grad_rows: Tensor,
                     grad_cols: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """dq, dk, dscale, dcol_bias recomputing each tile, two exponentials per element: no range limit."""
    row_shift, row_weight = tile_shift(row_lse, grad_rows)
    if col_lse is None:
        # rows only: the recomputing product subtracts the row shift itself
        def tile_gradient(tile: Tensor, rows: slice, cols: slice, scratch: Tensor) -> Tensor:
            grad = tile.exp2_()
            return grad if row_weight is None else grad.mul_(row_weight[rows].unsqueeze(1))

        return product_gradients(
            q, k, scale, col_bias, exclude, block_size, tile_gradient, row_bias=-row_shift, tile_factor=LOG2E
        )
    assert grad_cols is not None  # autograd passes one gradient per output
    col_shift, col_weight = tile_shift(col_lse, grad_cols)

    def dual_tile_gradient(tile: Tensor, rows: slice, cols: slice, scratch: Tensor) -> Tensor:
        by_cols = torch.sub(tile, col_shift[cols].unsqueeze(0), out=scratch).exp2_()
        if col_weight is not None:
            by_cols.mul_(col_weight[cols].unsqueeze(0))
        grad = tile.sub_(row_shift[rows].unsqueeze(1)).exp2_()
        if row_weight is not None:
            grad.mul_(row_weight[rows].unsqueeze(1))
        return grad.add_(by_cols)

    return product_gradients(q, k, scale, col_bias, exclude, block_size, dual_tile_gradient, tile_factor=LOG2E)


class TiledLogSumExp(torch.autograd.Function):
    """(row_lse [N], col_lse [M]) of L = scale * q @ k.T + col_bias, L[i, exclude[i]] removed.

    With G = g_row[:, None] * softmax_rows(L) + g_col[None, :] * softmax_cols(L), the gradient
    with respect to L, backward forms dq, dk, dscale and dcol_bias tile by tile.

    ``keep=True`` stores forward's exponentiated tiles (N * M elements; in ``workspace`` when given,
    reused from call to call) for backward, which then needs two matrix products per tile
    instead of three and no exponential; ``keep=False`` holds only O((N + M) d). The kept tiles are
    used up by the first backward; another backward through the same graph (``retain_graph=True``)
    recomputes them.
    """

    @staticmethod
    def forward(ctx: Any, q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None,
                exclude: Tensor | None, with_cols: bool, block_size: int, keep: bool = False,
                workspace: LogitWorkspace | None = None) -> Tensor | tuple[Tensor, Tensor | None]:
        tiles = _Tiles(q.shape[0], k.shape[0], block_size, q, keep, workspace)
        row_lse, col_lse, shift, columns_ok = _forward_statistics(
            q, k, scale, col_bias, exclude, with_cols, block_size, tiles
        )
        row_shift: Tensor | None = shift
        if not columns_ok:  # a column sum may have underflowed: recompute both directions exactly
            row_lse, col_lse = _exact_statistics(q, k, scale, col_bias, exclude, with_cols, block_size)
            row_shift = None
        ctx.save_for_backward(q, k, scale, col_bias, exclude, row_lse, col_lse, row_shift)
        ctx.block_size = block_size
        ctx.tiles = tiles if keep and columns_ok else None
        return (row_lse, col_lse) if with_cols else row_lse

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_rows: Tensor,
                 grad_cols: Tensor | None = None) -> tuple[Tensor | None, ...]:
        q, k, scale, col_bias, exclude, row_lse, col_lse, row_shift = ctx.saved_tensors
        tiles, ctx.tiles = ctx.tiles, None  # backward overwrites kept tiles: use them once
        grads = None
        if row_shift is not None:
            if tiles is None:
                tiles = _Tiles(q.shape[0], k.shape[0], ctx.block_size, q, keep=False)
            grads = _factored_gradients(q, k, scale, col_bias, exclude, ctx.block_size, tiles, row_shift, row_lse,
                                        col_lse, grad_rows, grad_cols)
        if grads is None:
            grads = _exact_gradients(q, k, scale, col_bias, exclude, ctx.block_size, row_lse, col_lse, grad_rows,
                                     grad_cols)
        return *grads, None, None, None, None, None
