"""The margin-based contrastive loss of Hadsell, Chopra and LeCun for labelled pairs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simclip.losses.checks import check_features, check_positive, check_same_shape, compute_dtype


def margin_contrastive(a: Tensor, b: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """Contrastive loss of Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning an
    Invariant Mapping", eq. 4: with d = |a_i - b_i|_2, 0.5 d^2 for similar pairs and
    0.5 max(0, margin - d)^2 for dissimilar ones, mean over pairs.

    Args:
        a: [N, D]. b: [N, D]. same: [N] bool, True where (a_i, b_i) is a similar pair.
        margin: m > 0, the distance beyond which dissimilar pairs cost nothing.

    Returns:
        0-dim loss in float32 (float64 if an input is float64).
    """
    check_features("a", a)
    check_features("b", b)
    check_same_shape("a", a, "b", b)
    if not isinstance(same, Tensor):
        raise TypeError(f"same must be a torch.Tensor of bools, got {type(same).__name__}")
    if same.dtype != torch.bool:
        raise TypeError(f"same must be a bool tensor, got dtype {same.dtype}")
    if same.shape != (a.shape[0],):
        raise ValueError(f"same must have shape ({a.shape[0]},), got {tuple(same.shape)}")
    margin = check_positive("margin", margin)
    dtype = compute_dtype(a, b)
    diff = a.to(dtype) - b.to(dtype)
    squared = (diff * diff).sum(1)  # no sqrt-then-square round trip for similar pairs
    distance = torch.linalg.vector_norm(diff, dim=1)  # its backward is 0 (not NaN) at d = 0
    hinge = torch.clamp(margin - distance, min=0.0)
    same = same.to(a.device)
    return 0.5 * torch.where(same, squared, hinge * hinge).mean()


class MarginContrastiveLoss(nn.Module):
    """Module form of :func:`margin_contrastive`; ``forward(a, b, same)``."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = check_positive("margin", margin)

    def forward(self, a: Tensor, b: Tensor, same: Tensor) -> Tensor:
        return margin_contrastive(a, b, same, self.margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"
