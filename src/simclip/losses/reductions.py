"""The shared core of every softmax-based contrastive loss: reductions of a scaled logit matrix.

InfoNCE, NT-Xent and the CLIP loss are all "mean log-sum-exp over the candidates minus mean
positive logit"; SigLIP is "sum of softplus over all pairs minus the positive logits". The positive
logits are O(N d) and are computed by each loss with plain autograd; the O(N M) part lives here,
in two interchangeable implementations:

- dense: the full logit matrix with ordinary autograd (fastest for small problems);
- tiled: custom autograd Functions that walk the matrix in tiles and keep O(N + M) statistics
  (``tiled_lse.py``, ``tiled_symmetric.py``, ``tiled_softplus.py``); the row/column core may also
  keep forward's tiles for backward (``keep_logits``), N * M elements for one product fewer.

All inputs here are already in the compute dtype (float32 or float64) and validated. Autocast is
switched off inside, so the products stay in that dtype under ``torch.autocast`` too (a bf16
logit of 100 is only known to within 0.5, and the tiled path writes into float32 buffers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.losses.tiled_lse import TiledLogSumExp
from simclip.losses.tiled_softplus import TiledSoftplusSum
from simclip.losses.tiled_symmetric import TiledSymmetricLogSumExp
from simclip.losses.workspace import LogitWorkspace

# Automatic choice (block_size=None): the largest logit matrix (N * M entries) still computed
# densely, per core. Measured with ``benchmarks/losses.py --crossover --threads 1 --cpu-time``
# (float32, d=128, forward + backward, 2-core AVX-512 EPYC): the tiled cores exponentiate with
# exp2 and the symmetric one computes half the Gram matrix, so they overtake the dense autograd
# path early: dual (CLIP) from 128 x 128, symmetric (NT-Xent) from 256 x 256 anchors, rows-only
# (InfoNCE) around 724 x 724 (within +-10% of dense from 384 to 1024 rows; the dense path's
# fused kernels win below). Under the thresholds dense was 10-80% faster, at < 3 ms per step.
DENSE_MAX_LOGITS = {"rows": 1 << 19, "symmetric": 1 << 16, "dual": 1 << 12}
# Tile side for block_size=None, by device type. On a CPU, tiles of 1024 x 1024 float32 (4 MB) keep
# the d=128 products at full matmul throughput while the element-wise passes run from cache; 512
# measured the same and 2048 10-30% slower on this CPU. On a GPU each tile costs a handful of kernel
# launches, so small tiles leave it launch-bound. On an H200 (float32, forward + backward, N = 65,536
# anchors, ``benchmarks/gpu.py``), tiles of 1024 / 2048 / 4096 / 8192 took 3.13 / 1.19 / 0.50 /
# 0.45 s for CLIP at d = 512 (OpenCLIP: 0.58 s) and 1.80 / 0.47 / 0.14 / 0.12 s for NT-Xent at
# d = 128 (lightly: 1.08 s). 4096 (64 MB a tile; 576 MB peak for CLIP) keeps most of the gain;
# 8192 gains 10% more for 256 MB tiles (823 MB peak). Device types not listed (mps, xpu, ...) are
# unmeasured and get the CPU value.
DEFAULT_BLOCK_SIZE = 1024
DEFAULT_BLOCK_SIZES = {"cpu": DEFAULT_BLOCK_SIZE, "cuda": 4096}
# Automatic choice (keep_logits=None) for the row/column log-sum-exp core: keep forward's tiles
# for backward while the logit matrix takes at most this many bytes. Backward then skips its
# recomputing product (3 products instead of 4; at d=128 that is about 25% of the time) for
# N * M * 4 bytes of memory: 1 GiB at 16384 x 16384 float32, against OpenCLIP's 4.1 GB there.
# Above it, memory stays O((N + M) d).
KEEP_LOGITS_MAX_BYTES = 1 << 30


def default_block_size(device: torch.device | str) -> int:
    """The tile side that ``block_size=None`` uses for inputs on ``device`` (DEFAULT_BLOCK_SIZES)."""
    return DEFAULT_BLOCK_SIZES.get(torch.device(device).type, DEFAULT_BLOCK_SIZE)


def resolve_block_size(
    block_size: int | None, n: int, m: int, core: str, device: torch.device | str
) -> int | None:
    """The tile size to use, or None for the dense path (only when ``block_size`` is None).

    ``core`` is "rows", "dual" (rows and columns) or "symmetric", the keys of DENSE_MAX_LOGITS;
    ``device`` is where the inputs live, which sets the automatic tile size.
    """
    if block_size is not None:
        return block_size
    return None if n * m <= DENSE_MAX_LOGITS[core] else default_block_size(device)


def row_col_logsumexp(
    q: Tensor,
    k: Tensor,
    scale: Tensor,
    col_bias: Tensor | None = None,
    *,
    exclude: Tensor | None = None,
    cols: bool = False,
    block_size: int | None = None,
    keep_logits: bool | None = None,
    workspace: LogitWorkspace | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Row and (optionally) column log-sum-exp of ``L = scale * q @ k.T + col_bias``.

    Args:
        q: [N, d] row features. k: [M, d] column features. scale: 0-dim tensor.
        col_bias: optional [M] added to every row.
        exclude: optional [N] long, column index removed from each row (L[i, exclude[i]] = -inf).
        cols: also return the column log-sum-exp.
        block_size: tile size; None chooses dense or tiled by size, and the tile by ``q``'s device.
        keep_logits: tiled path only: keep the logits from forward to backward (N * M elements,
            one matrix product fewer) or recompute them (O((N + M) d) memory); None keeps them
            while they take at most ``KEEP_LOGITS_MAX_BYTES``.
        workspace: where kept logits live, reused from call to call (fresh memory when None).

    Returns:
        (row_lse [N], col_lse [M] or None).
    """
    tile = resolve_block_size(block_size, q.shape[0], k.shape[0], "dual" if cols else "rows", q.device)
    if keep_logits is None:
        keep_logits = q.shape[0] * k.shape[0] * q.element_size() <= KEEP_LOGITS_MAX_BYTES
    differentiable = any(t is not None and t.requires_grad for t in (q, k, scale, col_bias))
    keep_logits = bool(keep_logits) and differentiable and torch.is_grad_enabled()
    with torch.autocast(q.device.type, enabled=False):
        if tile is not None:
            out = TiledLogSumExp.apply(q, k, scale, col_bias, exclude, cols, tile, keep_logits, workspace)
            return out if cols else (out, None)
        logits = torch.mm(q, k.T) * scale
    if col_bias is not None:
        logits = logits + col_bias
    if exclude is not None:
        logits = logits.scatter(1, exclude.unsqueeze(1), float("-inf"))
    return torch.logsumexp(logits, 1), torch.logsumexp(logits, 0) if cols else None


def symmetric_logsumexp(z: Tensor, scale: Tensor, *, block_size: int | None = None) -> Tensor:
    """Row log-sum-exp [N] of ``scale * z @ z.T`` without its diagonal; z is [N, d]."""
    tile = resolve_block_size(block_size, z.shape[0], z.shape[0], "symmetric", z.device)
    with torch.autocast(z.device.type, enabled=False):
        if tile is not None:
            lse: Tensor = TiledSymmetricLogSumExp.apply(z, scale, tile)
            return lse
        logits = torch.mm(z, z.T) * scale
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    return torch.logsumexp(logits.masked_fill(eye, float("-inf")), 1)


def softplus_sum(
    q: Tensor, k: Tensor, scale: Tensor, col_bias: Tensor | None = None, *, block_size: int | None = None
) -> Tensor:
    """0-dim sum over all pairs of ``softplus(scale * q_i . k_j + col_bias_j)``; q [N, d], k [M, d]."""
    tile = resolve_block_size(block_size, q.shape[0], k.shape[0], "rows", q.device)
    with torch.autocast(q.device.type, enabled=False):
        if tile is not None:
            total: Tensor = TiledSoftplusSum.apply(q, k, scale, col_bias, tile)
            return total
        logits = torch.mm(q, k.T) * scale
    if col_bias is not None:
        logits = logits + col_bias
    return F.softplus(logits).sum()
