"""The SimCLR model: encoder f, projection head g, and the input normalisation that travels with it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from simclip.models.head import ProjectionHead
from simclip.models.registry import create_encoder


@dataclass
class SimCLRModelConfig:
    """Everything needed to rebuild a SimCLR model (stored with every checkpoint)."""

    encoder: str = "small-cnn"
    in_channels: int = 1
    encoder_options: dict = field(default_factory=dict)
    # Where the encoder's starting weights came from (a file or hf-hub:REPO): loaded once when a run
    # starts, recorded for provenance; a trained model reloads from its checkpoint alone.
    encoder_weights: str | None = None
    proj_hidden_dim: int | None = None
    proj_dim: int = 128
    proj_layers: int = 2
    # Per-channel input statistics; the model normalises [0, 1] inputs itself.
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)


class SimCLRModel(nn.Module):
    """``encode(x) -> h`` (the representation that is kept) and ``project(h) -> z`` (thrown away).

    Images are float ``[B, C, H, W]`` in [0, 1]; normalisation by the configured mean/std happens
    inside, so a saved model needs no separate preprocessing description.
    """

    def __init__(self, cfg: SimCLRModelConfig) -> None:
        super().__init__()
        if len(cfg.mean) not in (1, cfg.in_channels) or len(cfg.std) != len(cfg.mean):
            raise ValueError(f"mean/std must have 1 or {cfg.in_channels} values, got {cfg.mean}/{cfg.std}")
        self.cfg = cfg
        self.encoder = create_encoder(cfg.encoder, in_channels=cfg.in_channels, **cfg.encoder_options)
        num_features = getattr(self.encoder, "num_features", None)
        if not isinstance(num_features, int):
            raise ValueError(f"encoder {cfg.encoder!r} does not expose an integer num_features")
        self._num_features = num_features
        self.head = ProjectionHead(num_features, cfg.proj_hidden_dim, cfg.proj_dim,
                                   cfg.proj_layers)
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, -1, 1, 1), persistent=False)

    @property
    def num_features(self) -> int:
        return self._num_features

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> representation h ``[B, num_features]``."""
        if x.dim() != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected images [B, {self.cfg.in_channels}, H, W], got {tuple(x.shape)}")
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        h: torch.Tensor = self.encoder((x - mean) / std)
        return h

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """Representation ``[B, num_features]`` -> projection z ``[B, proj_dim]``."""
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.encode(x))

    def encode_image(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """The interface shared with CLIP models: h, optionally L2-normalised."""
        h = self.encode(x)
        return F.normalize(h, dim=-1) if normalize else h

    def config_dict(self) -> dict:
        return asdict(self.cfg)
