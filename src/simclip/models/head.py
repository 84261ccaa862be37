"""The SimCLR projection head g (Chen et al. 2020, sec. 2.1; SimCLRv2 for depth > 2)."""

from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """MLP ``[B, in_dim] -> [B, out_dim]``: (Linear-BN-ReLU) x (layers - 1), then Linear-BN(no affine)
    when ``last_bn`` (as SimCLR's official code), else a plain Linear.

    ``hidden_dim`` defaults to ``in_dim``; ``out_dim`` defaults to 128 as in the paper.
    """

    def __init__(self, in_dim: int, hidden_dim: int | None = None, out_dim: int = 128,
                 layers: int = 2, last_bn: bool = False) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"projection head needs at least 1 layer, got {layers}")
        hidden_dim = hidden_dim or in_dim
        mods: list[nn.Module] = []
        dim = in_dim
        for _ in range(layers - 1):
            mods += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                     nn.ReLU(inplace=True)]
            dim = hidden_dim
        mods.append(nn.Linear(dim, out_dim, bias=not last_bn))
        if last_bn:
            mods.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*mods)
        self.out_dim = out_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)
