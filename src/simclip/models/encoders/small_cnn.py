"""``small-cnn``: a four-block CNN for 28x28 (or 32x32) images that trains fast on a CPU."""

from __future__ import annotations

import torch
from torch import nn

from simclip.models.encoders.pooling import global_avg_pool
from simclip.models.registry import register_encoder


class SmallCNN(nn.Module):
    """conv3x3(32, s1) - conv3x3(64, s2) - conv3x3(128, s2) - conv3x3(256, s2), each BN + ReLU,
    then global average pooling.

    Input ``[B, C, H, W]``, output ``[B, widths[-1]]`` (256 by default).
    """

    def __init__(self, in_channels: int = 1, widths: tuple[int, ...] = (32, 64, 128, 256),
                 strides: tuple[int, ...] = (1, 2, 2, 2)) -> None:
        super().__init__()
        if len(widths) != len(strides):
            raise ValueError(f"widths {widths} and strides {strides} must have the same length")
        layers: list[nn.Module] = []
        prev = in_channels
        for width, stride in zip(widths, strides):
            layers += [nn.Conv2d(prev, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.num_features = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_avg_pool(self.features(x))


@register_encoder("small-cnn")
def small_cnn(in_channels: int = 1, widths: tuple[int, ...] = (32, 64, 128, 256),
              strides: tuple[int, ...] = (1, 2, 2, 2)) -> SmallCNN:
    return SmallCNN(in_channels, tuple(widths), tuple(strides))
