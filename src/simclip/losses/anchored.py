"""Contrastive loss between several modalities bound to one anchor (ImageBind, Girdhar et al. 2023,
"ImageBind: One Embedding Space To Bind Them All", sec. 3.2): the CLIP loss between the anchor and
each other modality, averaged over those pairs. With two modalities it is exactly :func:`clip_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from simclip.losses.clip import clip_loss


def pairwise_clip_losses(embeddings: Mapping[str, Tensor], logit_scale: Tensor | float | Mapping[str, Tensor | float],
                         anchor: str, *, distributed: bool = False) -> dict[str, Tensor]:
    """The CLIP loss of each modality against ``anchor``, by modality name.

    Args:
        embeddings: ``{modality: [N, D]}``; row i of every modality is the same sample. At least
            two modalities, ``anchor`` among them.
        logit_scale: the multiplier (already exponentiated): one for every pair, or a mapping
            ``{modality: scale}`` with one per non-anchor modality (a learnable temperature each).
        anchor: the modality every other one is contrasted with.
        distributed: as in :func:`clip_loss` (rank-local rows against all ranks' candidates).

    Returns:
        ``{modality: 0-dim loss}`` for every modality but the anchor, in ``embeddings`` order:
        ``clip_loss(embeddings[anchor], embeddings[modality], scale)``.
    """
    if anchor not in embeddings:
        raise ValueError(f"anchor {anchor!r} is not among the modalities {list(embeddings)}")
    if len(embeddings) < 2:
        raise ValueError(f"a contrastive loss needs at least two modalities, got {list(embeddings)}")
    others = [m for m in embeddings if m != anchor]
    if isinstance(logit_scale, Mapping):
        missing = [m for m in others if m not in logit_scale]
        if missing:
            raise ValueError(f"logit_scale has no entry for {', '.join(missing)}")
    losses = {}
    for m in others:
        scale = logit_scale[m] if isinstance(logit_scale, Mapping) else logit_scale
        losses[m] = clip_loss(embeddings[anchor], embeddings[m], scale, distributed=distributed)
    return losses


def anchored_clip_loss(embeddings: Mapping[str, Tensor], logit_scale: Tensor | float | Mapping[str, Tensor | float],
                       anchor: str, *, distributed: bool = False) -> Tensor:
    """The mean over the non-anchor modalities m of ``clip_loss(anchor, m)``
    (see :func:`pairwise_clip_losses` for the arguments); a 0-dim tensor."""
    losses = pairwise_clip_losses(embeddings, logit_scale, anchor, distributed=distributed)
    return torch.stack(list(losses.values())).mean()
