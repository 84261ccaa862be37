"""The point-cloud tower: PointNet (Qi et al. 2017, "PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation") without the input transforms — a shared MLP applied to every
point, a max pool over the points (so the order of the points does not matter), and a linear head.
"""

from __future__ import annotations

from torch import Tensor, nn

from simclip.pairs.towers.registry import register_tower


class PointNet(nn.Module):
    """``float [B, P, 3] -> [B, embed_dim]``, invariant to the order of the P points."""

    def __init__(self, embed_dim: int, widths: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = 3
        for width in widths:  # the same MLP on every point (the points are rows of one matrix)
            layers += [nn.Linear(prev, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
            prev = width
        self.mlp = nn.Sequential(*layers)
        self.proj = nn.Linear(prev, embed_dim)

    def prepare(self, raw: Tensor) -> Tensor:
        return raw.float()

    def forward(self, points: Tensor) -> Tensor:
        b, p, _ = points.shape
        features = self.mlp(points.reshape(b * p, 3)).view(b, p, -1)  # [B, P, F]
        return self.proj(features.amax(dim=1))


@register_tower("pointnet", "points")
def pointnet(embed_dim: int, widths: tuple[int, ...] | list[int] = (32, 64, 128)) -> PointNet:
    return PointNet(embed_dim, tuple(widths))
