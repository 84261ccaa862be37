"""The generator: a small convolutional VAE whose decoder ``G(z)`` draws images in [0, 1].

Everything from the latent to the pixels is differentiable, so a CLIP loss on ``G(z)`` (with CLIP's
resize and normalisation done in torch, :func:`simclip.clip.preprocess_tensor`) reaches ``z``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from simclip.generate.config import GeneratorConfig


def _widths(cfg: GeneratorConfig) -> list[int]:
    """Channels at 4x4, 8x8, ..., S/2 x S/2 (halving, at least 16)."""
    n = int(math.log2(cfg.image_size)) - 2
    return [max(16, cfg.width >> i) for i in range(n)]


class Encoder(nn.Module):
    """``[B, C, S, S]`` in [0, 1] -> ``(mean, log_variance)``, each ``[B, latent_dim]``."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        widths = _widths(cfg)[::-1]  # S/2 ... 4
        layers: list[nn.Module] = []
        prev = cfg.channels
        for w in widths:
            layers += [nn.Conv2d(prev, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2)]
            prev = w
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(prev * 16, 2 * cfg.latent_dim)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        mean, log_var = self.head(self.features(2 * images - 1)).chunk(2, dim=1)
        return mean, log_var.clamp(-12, 6)


class Decoder(nn.Module):
    """``[B, latent_dim]`` -> ``[B, C, S, S]`` in [0, 1]."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        widths = _widths(cfg)
        self.start = nn.Sequential(nn.Linear(cfg.latent_dim, widths[0] * 16), nn.LeakyReLU(0.2))
        self.start_channels = widths[0]
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, padding=1),
                       nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[-1], widths[-1], 3, padding=1),
                   nn.LeakyReLU(0.2), nn.Conv2d(widths[-1], cfg.channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.start(z).view(len(z), self.start_channels, 4, 4)
        return torch.sigmoid(self.body(x))


class Generator(nn.Module):
    """A VAE: :meth:`encode` an image to its latent, :meth:`decode` (the generator ``G``) a latent
    to an image, :meth:`sample_latents` under a seed.

    ``latent_bank`` (a buffer ``[K, D]``, saved with the weights) holds the posterior means of up
    to ``BANK_SIZE`` training images, set by training; seeds draw from it (the latents the decoder
    was trained on). With a small KL weight the encodings do not fill N(0, I), and neither N(0, I)
    nor a Gaussian fitted to them decodes to images like those trained on; before training (an
    empty bank) seeds draw from N(0, I).
    """

    BANK_SIZE = 4096
    latent_bank: Tensor

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.register_buffer("latent_bank", torch.zeros(0, cfg.latent_dim))

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, C, S, S]`` (uint8, or float in [0, 1]) -> posterior ``(mean, log_var)`` ``[B, D]``."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (self.config.channels, self.config.image_size,
                                                             self.config.image_size):
            raise ValueError(f"images must be [B, {self.config.channels}, {self.config.image_size}, "
                             f"{self.config.image_size}], got {tuple(images.shape)}")
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """``[B, latent_dim]`` -> images ``[B, C, S, S]``, float in [0, 1]."""
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"latents must be [B, {self.config.latent_dim}], got {tuple(z.shape)}")
        out: Tensor = self.decoder(z)
        return out

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstructions from a reparameterised sample, and the posterior ``(mean, log_var)``."""
        mean, log_var = self.encode(images)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return self.decode(z), mean, log_var

    def sample_latents(self, n: int, seed: int) -> Tensor:
        """``[n, latent_dim]``: latents of the bank drawn uniformly (N(0, I) while it is empty), the
        same for the same ``seed``."""
        g = torch.Generator().manual_seed(seed)
        if len(self.latent_bank) == 0:
            return torch.randn(n, self.config.latent_dim, generator=g)
        return self.latent_bank.cpu()[torch.randint(len(self.latent_bank), (n,), generator=g)]

    @torch.no_grad()
    def fill_latent_bank(self, images: Tensor, batch_size: int = 512) -> None:
        """Keep the posterior means of ``images`` ``[N, C, S, S]`` (the first ``BANK_SIZE``)."""
        images = images[:self.BANK_SIZE]
        self.latent_bank = torch.cat([self.encode(x)[0] for x in images.split(batch_size)])
