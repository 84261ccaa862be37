"""Contrastive losses: pure functions with thin ``nn.Module`` wrappers.

- :func:`info_nce` / :class:`InfoNCELoss` -- InfoNCE (van den Oord et al. 2018) with cosine, dot or
  negative squared Euclidean scores; in-batch, shared or per-query negatives.
- :func:`nt_xent` / :class:`NTXentLoss` -- SimCLR's NT-Xent (Chen et al. 2020) for 2 views, the
  multi-positive SupCon L_out form (Khosla et al. 2020) for V > 2 views.
- :func:`margin_contrastive` / :class:`MarginContrastiveLoss` -- the pairwise margin loss of
  Hadsell, Chopra & LeCun 2006.
- :func:`clip_loss` / :class:`CLIPLoss` -- CLIP's symmetric cross-entropy (Radford et al. 2021).
- :func:`siglip_loss` / :class:`SigLIPLoss` -- the pairwise sigmoid loss (Zhai et al. 2023).

The softmax losses share one core (``reductions.py``): the log-sum-exp over the candidates of a
scaled product matrix, computed densely for small problems and otherwise in tiles by custom
autograd Functions that never hold the full N x M matrix (``block_size`` controls it; None picks
dense or tiled by size, and the tile by device; ``keep_logits`` trades N x M memory for one matrix
product fewer in backward, and a :class:`LogitWorkspace` keeps that memory from step to step).
:func:`all_gather_with_grad` (``gather.py``) is the only collective code; with ``distributed=True``
each rank computes the loss of its own anchors against all gathered candidates, scaled so that DDP's
gradient averaging reproduces the single-process gradient.
"""

from simclip.losses.clip import CLIPLoss, clip_loss
from simclip.losses.gather import all_gather_with_grad, rank_and_world
from simclip.losses.infonce import InfoNCELoss, info_nce
from simclip.losses.margin import MarginContrastiveLoss, margin_contrastive
from simclip.losses.ntxent import NTXentLoss, nt_xent
from simclip.losses.siglip import SigLIPLoss, siglip_loss
from simclip.losses.workspace import LogitWorkspace

__all__ = [
    "CLIPLoss",
    "InfoNCELoss",
    "LogitWorkspace",
    "MarginContrastiveLoss",
    "NTXentLoss",
    "SigLIPLoss",
    "all_gather_with_grad",
    "clip_loss",
    "info_nce",
    "margin_contrastive",
    "nt_xent",
    "rank_and_world",
    "siglip_loss",
]
