"""The CLIP loss: symmetric cross-entropy over image-text logits."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simclip.losses.checks import (
    check_block_size,
    check_features,
    check_optional_bool,
    check_same_shape,
    check_scalar,
    compute_dtype,
)
from simclip.losses.gather import (
    all_gather_with_grad,
    rank_and_world,
    resolve_distributed,
)
from simclip.losses.reductions import row_col_logsumexp
from simclip.losses.workspace import LogitWorkspace


def clip_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor | float,
    *,
    block_size: int | None = None,
    distributed: bool = False,
    keep_logits: bool | None = None,
    workspace: LogitWorkspace | None = None,
) -> Tensor:
    """CLIP's contrastive loss (Radford et al. 2021, "Learning Transferable Visual Models From
    Natural Language Supervision", Figure 3): with logits = logit_scale * I @ T.T, the mean of the
    image->text cross-entropy (rows, target i for row i) and the text->image one (columns), as
    OpenCLIP's ``ClipLoss``.

    Args:
        image_features: [N, D], used as given (the model normalises them).
        text_features: [N, D]; row i pairs with image i.
        logit_scale: the multiplier itself (already exponentiated), a float or 0-dim tensor;
            its gradient is returned when it requires one.
        block_size: tile size of the blockwise computation; None picks dense or tiled by size,
            with tiles of ``DEFAULT_BLOCK_SIZES`` for the device (1024 on a CPU, 4096 on CUDA).
        distributed: rank-local loss against the features gathered from all ranks (OpenCLIP's
            ``local_loss=True, gather_with_grad=True``; see ``gather.py``); every rank must call it.
        keep_logits: for the tiled path, keep the [N, N] logits between forward and backward
            (4 N^2 bytes in float32, one matrix product fewer) or recompute them (memory
            O(N d)); None keeps them up to ``reductions.KEEP_LOGITS_MAX_BYTES`` (1 GiB).
        workspace: a :class:`LogitWorkspace` that holds the kept logits from call to call
            (:class:`CLIPLoss` owns one); None allocates them afresh each call.

    Returns:
        0-dim loss in float32 (float64 if an input is float64).
    """
    check_features("image_features", image_features)
    check_features("text_features", text_features)
    check_same_shape("image_features", image_features, "text_features", text_features)
    block_size = check_block_size(block_size)
    check_optional_bool("keep_logits", keep_logits)
    dtype = compute_dtype(image_features, text_features)
    image, text = image_features.to(dtype), text_features.to(dtype)
    scale = check_scalar("logit_scale", logit_scale, image)
    positive = (image * text).sum(1).mean() * scale
    rank, world = rank_and_world() if distributed else (0, 1)
    if world == 1:
        lse_image, both = row_col_logsumexp(
            image, text, scale, cols=True, block_size=block_size, keep_logits=keep_logits, workspace=workspace
        )
        assert both is not None  # cols=True: the column log-sum-exp, here the text side
        lse_text = both
    else:
        # one collective for both modalities; each rank scores its own rows in both directions
        gathered = all_gather_with_grad(torch.cat([image, text], 1))
        all_image, all_text = gathered.split(image.shape[1], dim=1)
        lse_image, _ = row_col_logsumexp(image, all_text, scale, block_size=block_size, keep_logits=keep_logits)
        lse_text, _ = row_col_logsumexp(text, all_image, scale, block_size=block_size, keep_logits=keep_logits)
    return 0.5 * (lse_image.mean() + lse_text.mean()) - positive


class CLIPLoss(nn.Module):
    """Module form of :func:`clip_loss`; ``forward(image_features, text_features, logit_scale)``.

    ``distributed=None`` turns the rank-local layout on whenever a process group with more than
    one rank is initialised (then every rank must call the loss, or the gather waits forever).
    The module owns a :class:`LogitWorkspace`: kept logits reuse its memory from step to step
    (up to 4 N^2 bytes held between calls; ``self.workspace.release()`` frees it).
    """

    def __init__(self, block_size: int | None = None, distributed: bool | None = None,
                 keep_logits: bool | None = None):
        super().__init__()
        self.block_size = check_block_size(block_size)
        self.distributed = distributed
        self.keep_logits = check_optional_bool("keep_logits", keep_logits)
        self.workspace = LogitWorkspace()

    def forward(self, image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
        return clip_loss(
            image_features,
            text_features,
            logit_scale,
            block_size=self.block_size,
            distributed=resolve_distributed(self.distributed),
            keep_logits=self.keep_logits,
            workspace=self.workspace,
        )

    def extra_repr(self) -> str:
        return f"block_size={self.block_size}, distributed={self.distributed}, keep_logits={self.keep_logits}"
