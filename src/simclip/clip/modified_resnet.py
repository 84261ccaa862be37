"""OpenAI's ModifiedResNet image tower (Radford et al. 2021, sec. 2.4).

Differences from a torchvision ResNet (He et al. 2016): a three-convolution stem with an average pool,
anti-aliased downsampling (He et al. 2019 "bag of tricks", Zhang 2019) where strided convolutions are
replaced by an average pool before a stride-1 convolution, and attention pooling over the final
feature map instead of global average pooling. ``[B, C, S, S] -> [B, E]`` with ``S`` a multiple of 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simclip.clip.pos_embed import resize_grid_embedding


class Bottleneck(nn.Module):
    """1x1 - 3x3 - (avg-pool) - 1x1 bottleneck, ``expansion = 4``; the shortcut avg-pools then projects."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample: nn.Sequential | None = None
        if stride > 1 or inplanes != out:
            # OpenAI's key names: downsample.0 is the convolution, downsample.1 the batch norm.
            self.downsample = nn.Sequential()
            self.downsample.add_module("-1", nn.AvgPool2d(stride))
            self.downsample.add_module("0", nn.Conv2d(inplanes, out, 1, bias=False))
            self.downsample.add_module("1", nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(self.avgpool(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class AttentionPool2d(nn.Module):
    """One query (the spatial mean) attends over the mean and every position: ``[B, C, g, g] -> [B, E]``.

    The reference runs full self-attention and keeps the first output; only that query is computed here,
    which gives the same result.
    """

    def __init__(self, grid: int, width: int, heads: int, output_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, width) / width ** 0.5)
        self.k_proj = nn.Linear(width, width)
        self.q_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.c_proj = nn.Linear(width, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        x = x.flatten(2).transpose(1, 2)  # [B, g*g, C]
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1) + self.positional_embedding.to(x.dtype)
        hd = c // self.heads
        q = self.q_proj(x[:, :1]).view(b, 1, self.heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, -1, self.heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, -1, self.heads, hd).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, H, 1, C/H]
        pooled: torch.Tensor = self.c_proj(out.transpose(1, 2).reshape(b, c))
        return pooled


class ModifiedResNet(nn.Module):
    """Stem (stride 4) and four stages (strides 1, 2, 2, 2): the feature map is ``image_size / 32``."""

    def __init__(self, layers: tuple[int, int, int, int], output_dim: int, heads: int,
                 image_size: int = 224, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        self.image_size, self.in_channels = image_size, in_channels
        self.conv1 = nn.Conv2d(in_channels, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        inplanes = width
        for i, blocks in enumerate(layers):
            planes = width * 2 ** i
            stage = [Bottleneck(inplanes, planes, stride=1 if i == 0 else 2)]
            inplanes = planes * Bottleneck.expansion
            stage += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.attnpool = AttentionPool2d(image_size // 32, width * 32, heads, output_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """OpenAI's initialisation: pool projections ~ N(0, 1/C); each block's last BN starts at zero
        so every residual block starts as the identity (Goyal et al. 2017)."""
        std = self.attnpool.c_proj.in_features ** -0.5
        for proj in (self.attnpool.q_proj, self.attnpool.k_proj, self.attnpool.v_proj,
                     self.attnpool.c_proj):
            nn.init.normal_(proj.weight, std=std)
        for name, param in self.named_parameters():
            if name.startswith("layer") and name.endswith("bn3.weight"):
                nn.init.zeros_(param)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.conv1.weight.dtype)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.avgpool(F.relu(self.bn3(self.conv3(x))))
        for i in range(1, 5):
            x = self.get_submodule(f"layer{i}")(x)
        pooled: torch.Tensor = self.attnpool(x)
        return pooled

    def set_image_size(self, image_size: int) -> None:
        """Resample the attention pool's positional embedding for ``image_size`` (multiple of 32)."""
        if image_size % 32:
            raise ValueError(f"image_size ({image_size}) must be a multiple of 32 for a ResNet tower")
        pool = self.attnpool
        pool.positional_embedding = nn.Parameter(
            resize_grid_embedding(pool.positional_embedding.data, image_size // 32))
        self.image_size = image_size
