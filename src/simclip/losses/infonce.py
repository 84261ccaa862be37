"""InfoNCE: one positive against many negatives, with cosine, dot-product or Euclidean scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclip.losses.checks import (
    check_block_size,
    check_features,
    check_positive,
    check_same_shape,
    compute_dtype,
)
from simclip.losses.gather import all_gather_with_grad, resolve_distributed
from simclip.losses.reductions import row_col_logsumexp

Score = Literal["cosine", "dot", "euclidean"]
SCORES = ("cosine", "dot", "euclidean")


def _check_negatives(negatives: object, query: Tensor) -> None:
    if negatives is None:
        return
    if not isinstance(negatives, Tensor):
        raise TypeError(f"negatives must be None or a torch.Tensor, got {type(negatives).__name__}")
    n, dim = query.shape
    shared = negatives.dim() == 2 and negatives.shape[1] == dim
    per_query = negatives.dim() == 3 and negatives.shape[0] == n and negatives.shape[2] == dim
    if not (shared or per_query):
        raise ValueError(
            f"negatives must be [M, {dim}] (shared) or [{n}, M, {dim}] (per query), got {tuple(negatives.shape)}"
        )
    check_features("negatives", negatives, ndim=negatives.dim())
    if negatives.device != query.device:
        raise ValueError(f"negatives must be on the query's device {query.device}, got {negatives.device}")


def _column_bias(columns: Tensor, score: str, temperature: float) -> Tensor | None:
    # -|q - k|^2 / t = (2 q.k - |k|^2) / t - |q|^2 / t; the last term is the same for every
    # candidate of a query, cancels in the softmax, and is dropped from all logits alike.
    return -(columns * columns).sum(-1) / temperature if score == "euclidean" else None


def info_nce(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor | None = None,
    temperature: float = 0.1,
    score: Score = "cosine",
    *,
    block_size: int | None = None,
    distributed: bool = False,
) -> Tensor:
    """InfoNCE loss (van den Oord et al. 2018, "Representation Learning with Contrastive Predictive
    Coding", eq. 4): for each query, -log softmax of its positive's score among the positive and
    the negatives, with logits = score / temperature; mean over queries.

    Scores: "cosine" (dot product of L2-normalised vectors), "dot" (raw dot product) or
    "euclidean" (negative squared Euclidean distance).

    Args:
        query: [N, D].
        positive: [N, D]; row i is the positive of query i.
        negatives: None for in-batch negatives (query i's negatives are the other N - 1 rows of
            ``positive``), [M, D] shared by all queries, or [N, M, D] per query.
        temperature: t > 0.
        score: "cosine", "dot" or "euclidean".
        block_size: tile size for in-batch or shared negatives; None picks dense or tiled by size,
            with tiles of ``DEFAULT_BLOCK_SIZES`` for the device (1024 on a CPU, 4096 on CUDA).
        distributed: with in-batch negatives, each rank's queries are scored against the positives
            gathered from all ranks (see ``gather.py``). Explicit negatives are used as given.

    Returns:
        0-dim loss in float32 (float64 if an input is float64).
    """
    check_features("query", query)
    check_features("positive", positive)
    check_same_shape("query", query, "positive", positive)
    _check_negatives(negatives, query)
    temperature = check_positive("temperature", temperature)
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    block_size = check_block_size(block_size)
    dtype = compute_dtype(*(t for t in (query, positive, negatives) if t is not None))
    q, p = query.to(dtype), positive.to(dtype)
    neg = None if negatives is None else negatives.to(dtype)
    if score == "cosine":
        q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
        neg = None if neg is None else F.normalize(neg, dim=-1)
    factor = 2.0 if score == "euclidean" else 1.0
    scale = torch.tensor(factor / temperature, dtype=dtype, device=q.device)
    pos_bias = _column_bias(p, score, temperature)
    pos_logit = (q * p).sum(-1) * scale + (0.0 if pos_bias is None else pos_bias)
    lse = _candidates_logsumexp(
        q, p, neg, pos_logit, scale, lambda x: _column_bias(x, score, temperature), block_size, distributed
    )
    return (lse - pos_logit).mean()


def _candidates_logsumexp(
    q: Tensor,
    p: Tensor,
    neg: Tensor | None,
    pos_logit: Tensor,
    scale: Tensor,
    bias_of: Callable[[Tensor], Tensor | None],
    block_size: int | None,
    distributed: bool,
) -> Tensor:
    """[N] log-sum-exp of each query's logits over its positive and its negatives."""
    if neg is None:  # the positives of all queries (of all ranks) are the candidates
        columns = all_gather_with_grad(p) if distributed else p
        return row_col_logsumexp(q, columns, scale, bias_of(columns), block_size=block_size)[0]
    if neg.dim() == 2:
        lse_neg, _ = row_col_logsumexp(q, neg, scale, bias_of(neg), block_size=block_size)
        return torch.logaddexp(lse_neg, pos_logit)
    with torch.autocast(q.device.type, enabled=False):  # keep the compute dtype, as reductions.py does
        neg_logit = torch.einsum("nd,nmd->nm", q, neg) * scale
    neg_bias = bias_of(neg)
    neg_logit = neg_logit if neg_bias is None else neg_logit + neg_bias
    return torch.logsumexp(torch.cat([pos_logit.unsqueeze(1), neg_logit], 1), 1)


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce`; ``forward(query, positive, negatives=None)``.

    ``distributed=None`` turns the rank-local layout on whenever a process group with more than
    one rank is initialised (then every rank must call the loss, or the gather waits forever).
    """

    def __init__(
        self,
        temperature: float = 0.1,
        score: Score = "cosine",
        block_size: int | None = None,
        distributed: bool | None = None,
    ):
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.temperature = check_positive("temperature", temperature)
        self.score = score
        self.block_size = check_block_size(block_size)
        self.distributed = distributed

    def forward(self, query: Tensor, positive: Tensor, negatives: Tensor | None = None) -> Tensor:
        return info_nce(
            query,
            positive,
            negatives,
            self.temperature,
            self.score,
            block_size=self.block_size,
            distributed=resolve_distributed(self.distributed),
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, score={self.score!r}, block_size={self.block_size}"
