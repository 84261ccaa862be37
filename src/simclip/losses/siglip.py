"""The SigLIP loss: an independent binary (sigmoid) decision for every image-text pair."""

from __future__ import annotations

from torch import Tensor, nn

from simclip.losses.checks import check_block_size, check_features, check_same_shape, check_scalar, compute_dtype
from simclip.losses.gather import all_gather_with_grad, rank_and_world, resolve_distributed
from simclip.losses.reductions import softplus_sum


def siglip_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor | float,
    logit_bias: Tensor | float,
    *,
    block_size: int | None = None,
    distributed: bool = False,
) -> Tensor:
    """Sigmoid loss of Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training", Algorithm 1:
    -1/N sum_ij log sigmoid(z_ij (t x_i . y_j + b)), z_ij = +1 if i == j else -1.

    Computed as (sum_ij softplus(L_ij) - sum_i L_ii) / N with L_ij = t x_i . y_j + b, since
    -log sigmoid(-x) = softplus(x) and -log sigmoid(x) = softplus(x) - x; only the first sum
    needs all N^2 pairs (done in tiles for large N).

    Args:
        image_features: [N, D] (x), used as given.
        text_features: [N, D] (y); row i pairs with image i.
        logit_scale: t, already exponentiated; float or 0-dim tensor (gradient returned if needed).
        logit_bias: b; float or 0-dim tensor (gradient returned if needed).
        block_size: tile size of the blockwise computation; None picks dense or tiled by size,
            with tiles of ``DEFAULT_BLOCK_SIZES`` for the device (1024 on a CPU, 4096 on CUDA).
        distributed: each rank scores its own images against the texts of all ranks and divides
            by its own N (see ``gather.py``); every rank must call it.

    Returns:
        0-dim loss in float32 (float64 if an input is float64).
    """
    check_features("image_features", image_features)
    check_features("text_features", text_features)
    check_same_shape("image_features", image_features, "text_features", text_features)
    block_size = check_block_size(block_size)
    dtype = compute_dtype(image_features, text_features)
    image, text = image_features.to(dtype), text_features.to(dtype)
    scale = check_scalar("logit_scale", logit_scale, image)
    bias = check_scalar("logit_bias", logit_bias, image)
    positive = (image * text).sum(1).sum() * scale + bias * image.shape[0]
    columns = all_gather_with_grad(text) if distributed and rank_and_world()[1] > 1 else text
    total = softplus_sum(image, columns, scale, bias.expand(columns.shape[0]), block_size=block_size)
    return (total - positive) / image.shape[0]


class SigLIPLoss(nn.Module):
    """Module form of :func:`siglip_loss`; ``forward(image_features, text_features, logit_scale, logit_bias)``.

    ``distributed=None`` turns the rank-local layout on whenever a process group with more than
    one rank is initialised (then every rank must call the loss, or the gather waits forever).
    """

    def __init__(self, block_size: int | None = None, distributed: bool | None = None):
        super().__init__()
        self.block_size = check_block_size(block_size)
        self.distributed = distributed

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor | float,
        logit_bias: Tensor | float,
    ) -> Tensor:
        return siglip_loss(
            image_features,
            text_features,
            logit_scale,
            logit_bias,
            block_size=self.block_size,
            distributed=resolve_distributed(self.distributed),
        )

    def extra_repr(self) -> str:
        return f"block_size={self.block_size}, distributed={self.distributed}"
