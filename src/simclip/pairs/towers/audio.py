"""The audio tower: a small CNN on log-mel spectrograms ``[B, 1, n_mels, frames]``.

Each spectrogram is standardised on its own (mean 0, standard deviation 1 over all its bins), so
loudness and the log floor do not matter; four conv3x3-BN-ReLU blocks of stride 2, then average and
max pooling over frequency and time, concatenated, and a linear projection.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simclip.pairs.towers.registry import register_tower


class AudioCNN(nn.Module):
    """``float [B, 1, M, T] -> [B, embed_dim]``."""

    def __init__(self, embed_dim: int, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = 1
        for width in widths:
            layers += [nn.Conv2d(prev, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * prev, embed_dim)

    def prepare(self, raw: Tensor) -> Tensor:
        return raw.float()

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-5)
        h = self.features((x - mean) / std).flatten(2)
        return self.proj(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))


@register_tower("audio-cnn", "audio")
def audio_cnn(embed_dim: int, widths: tuple[int, ...] | list[int] = (16, 32, 64, 128)) -> AudioCNN:
    return AudioCNN(embed_dim, tuple(widths))
