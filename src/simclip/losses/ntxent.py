"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR, for two or more views."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclip.losses.checks import check_block_size, check_features, check_positive, compute_dtype
from simclip.losses.gather import all_gather_with_grad, rank_and_world, resolve_distributed
from simclip.losses.reductions import row_col_logsumexp, symmetric_logsumexp


def _stack_views(views: Tensor | Sequence[Tensor]) -> Tensor:
    if isinstance(views, Tensor):
        stacked = check_features("views", views, ndim=3)
    elif isinstance(views, Sequence) and not isinstance(views, str):
        items = [check_features(f"views[{i}]", v) for i, v in enumerate(views)]
        for i, v in enumerate(items[1:], start=1):
            if v.shape != items[0].shape or v.device != items[0].device:
                raise ValueError(
                    f"views[{i}] has shape {tuple(v.shape)} on {v.device}, "
                    f"expected {tuple(items[0].shape)} on {items[0].device} like views[0]"
                )
        if not items:
            raise ValueError("views must contain at least 2 views, got 0")
        stacked = torch.stack(items)
    else:
        raise TypeError(f"views must be a tensor [V, N, D] or a list of [N, D] tensors, got {type(views).__name__}")
    if stacked.shape[0] < 2:
        raise ValueError(f"views must contain at least 2 views, got {stacked.shape[0]}")
    return stacked


def _views_and_temperature(args: tuple, temperature: float | None) -> tuple[Tensor | Sequence[Tensor], float]:
    """``(views, temperature)`` from the positional arguments of :func:`nt_xent`: separate [N, D]
    views, or one [V, N, D] tensor / list of views optionally followed by the temperature."""
    if not args:
        raise TypeError("nt_xent needs views: nt_xent(z1, z2, temperature=t) or nt_xent(z [V, N, D], t)")
    views, rest = args[0], args[1:]
    if rest and not isinstance(rest[-1], Tensor):  # nt_xent(views, 0.5): the temperature by position
        if temperature is not None:
            raise TypeError("nt_xent got the temperature twice: by position and as temperature=")
        rest, temperature = rest[:-1], rest[-1]
    if rest:  # nt_xent(z1, z2, ...): separate views
        views = (views, *rest)
    return views, 0.5 if temperature is None else temperature


def _excluded_self_columns(views: int, n: int, rank: int, world: int, device: torch.device) -> Tensor:
    """Column of each local anchor (view v, sample i) in the gathered [V * world * n] columns."""
    view_start = torch.arange(views, device=device).unsqueeze(1) * world * n
    return (view_start + rank * n + torch.arange(n, device=device)).reshape(-1)


def nt_xent(
    *views: Tensor | Sequence[Tensor] | float,
    temperature: float | None = None,
    block_size: int | None = None,
    distributed: bool = False,
) -> Tensor:
    """NT-Xent loss of SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of
    Visual Representations", eq. 1), generalised to V >= 2 views.

    The V*N embeddings are L2-normalised and every one of them is an anchor; its candidates are the
    other V*N - 1 embeddings (self-similarity removed), scored by cosine similarity / temperature.
    For V = 2 this is exactly SimCLR's 2N formulation: l(i, j) = -log softmax over k != i of
    sim(z_i, z_k) / t, at the one positive j, averaged over the 2N anchors. (The official
    TensorFlow SimCLR code adds the two directions' means and so returns twice this value.)

    For V > 2 each anchor has the V - 1 other views of its sample as positives, and the loss is the
    multi-positive SupCon form L_out of Khosla et al. 2020, "Supervised Contrastive Learning",
    eq. 2, with positives given by the view index: per anchor a with positives P(a),
    -1/|P(a)| sum_{p in P(a)} log( exp(s_ap / t) / sum_{k != a} exp(s_ak / t) ), mean over anchors.

    The log-sum-exp is evaluated stably (self-similarity masked with -inf), so temperatures such
    as 0.01 give finite values and gradients.

    Calls: ``nt_xent(z1, z2, ..., temperature=t)`` with [N, D] views (as lightly's ``NTXentLoss``
    and solo-learn take them), ``nt_xent(z, t)`` with one [V, N, D] tensor, or
    ``nt_xent([z1, z2], t)`` with a list of views.

    Args:
        views: two or more [N, D] tensors, or one [V, N, D] tensor or list of V tensors [N, D];
            view v of sample i is views[v][i]. After a single tensor or list, a number is the
            temperature.
        temperature: t > 0 (default 0.5).
        block_size: tile size of the blockwise computation; None picks dense or tiled by size,
            with tiles of ``DEFAULT_BLOCK_SIZES`` for the device (1024 on a CPU, 4096 on CUDA).
        distributed: rank-local loss against the views gathered from all ranks (see ``gather.py``);
            every rank must call it. Ignored when torch.distributed is not initialised.

    Returns:
        0-dim loss in float32 (float64 if the input is float64).
    """
    given, temperature = _views_and_temperature(views, temperature)
    stacked = _stack_views(given)
    temperature = check_positive("temperature", temperature)
    block_size = check_block_size(block_size)
    n_views, n, dim = stacked.shape
    z = F.normalize(stacked.to(compute_dtype(stacked)), dim=-1)
    scale = torch.tensor(1.0 / temperature, dtype=z.dtype, device=z.device)
    # sum over anchors of their mean positive logit: each pair of views counted from both sides;
    # flat dot products keep no [N, D] temporaries alive for backward
    flat = z.reshape(n_views, -1)
    pairs = sum(torch.dot(flat[v], flat[w]) for v in range(n_views) for w in range(v + 1, n_views))
    positive = 2 * pairs * scale / (n_views - 1)
    anchors = z.reshape(n_views * n, dim)
    rank, world = rank_and_world() if distributed else (0, 1)
    if world == 1:
        lse = symmetric_logsumexp(anchors, scale, block_size=block_size)
    else:
        gathered = all_gather_with_grad(z.transpose(0, 1).reshape(n, n_views * dim))
        columns = gathered.reshape(world * n, n_views, dim).transpose(0, 1).reshape(-1, dim)
        exclude = _excluded_self_columns(n_views, n, rank, world, z.device)
        lse, _ = row_col_logsumexp(anchors, columns, scale, exclude=exclude, block_size=block_size)
    return lse.mean() - positive / (n_views * n)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`; ``forward(*views)`` takes [N, D] views or one [V, N, D].

    ``distributed=None`` turns the rank-local layout on whenever a process group with more than
    one rank is initialised (then every rank must call the loss, or the gather waits forever).
    """

    def __init__(self, temperature: float = 0.5, block_size: int | None = None, distributed: bool | None = None):
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.block_size = check_block_size(block_size)
        self.distributed = distributed

    def forward(self, *views: Tensor) -> Tensor:
        stacked: Tensor | Sequence[Tensor] = views[0] if len(views) == 1 else views
        return nt_xent(
            stacked,
            temperature=self.temperature,
            block_size=self.block_size,
            distributed=resolve_distributed(self.distributed),
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, block_size={self.block_size}, distributed={self.distributed}"
