"""torchvision ResNets as encoders, with the CIFAR stem option of the SimCLR paper (Appendix B.9):
a 3x3 stride-1 first convolution and no max-pool, for 32x32 inputs."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from simclip.models.registry import register_encoder


class ResNetEncoder(nn.Module):
    """A torchvision ResNet without its classifier: ``[B, C, H, W] -> [B, num_features]``."""

    def __init__(self, arch: str, in_channels: int = 3, cifar_stem: bool = False,
                 zero_init_residual: bool = True) -> None:
        super().__init__()
        net = getattr(torchvision.models, arch)(weights=None, zero_init_residual=zero_init_residual)
        if cifar_stem:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.num_features = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_encoder("resnet18")
def resnet18(in_channels: int = 3, cifar_stem: bool = False) -> ResNetEncoder:
    return ResNetEncoder("resnet18", in_channels, cifar_stem)


@register_encoder("resnet50")
def resnet50(in_channels: int = 3, cifar_stem: bool = False) -> ResNetEncoder:
    return ResNetEncoder("resnet50", in_channels, cifar_stem)
