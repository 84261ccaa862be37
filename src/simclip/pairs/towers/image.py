"""Towers on pixel grids: RGB images and depth maps, each a registered image encoder
(:func:`simclip.models.create_encoder`, ``small-cnn`` by default) and a linear projection."""

from __future__ import annotations

from torch import Tensor, nn

from simclip.models import create_encoder
from simclip.pairs.towers.registry import register_tower

IMAGE_MEAN, IMAGE_STD = 0.5, 0.25  # uint8 images are mapped to (x / 255 - 0.5) / 0.25
SMALL_GRID: dict[str, object] = {"widths": (32, 64, 128), "strides": (2, 2, 2)}


class EncoderTower(nn.Module):
    """``[B, C, H, W] -> [B, embed_dim]``: encoder features, then a linear projection.

    ``kind="image"``: uint8 input, scaled by ``prepare``. ``kind="depth"``: float distances; the
    forward pass turns them into heights above each map's farthest point (the floor), so the tower
    does not depend on where the camera stood.
    """

    def __init__(self, kind: str, embed_dim: int, encoder: str, channels: int, **options: object) -> None:
        super().__init__()
        self.kind = kind
        self.encoder = create_encoder(encoder, in_channels=channels, **options)
        num_features = getattr(self.encoder, "num_features", None)
        if not isinstance(num_features, int):
            raise ValueError(f"encoder {encoder!r} does not expose an integer num_features")
        self.proj = nn.Linear(num_features, embed_dim)

    def prepare(self, raw: Tensor) -> Tensor:
        if self.kind == "image":
            return (raw.float() / 255.0 - IMAGE_MEAN) / IMAGE_STD
        return raw.float()

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "depth":
            x = x.amax(dim=(1, 2, 3), keepdim=True) - x
        features: Tensor = self.encoder(x)
        return self.proj(features)


def _options(encoder: str, options: dict[str, object]) -> dict[str, object]:
    """``small-cnn`` narrowed for 32-pixel grids: three stride-2 blocks (32, 64, 128 channels), a
    quarter of the default's work; options given win."""
    return {**SMALL_GRID, **options} if encoder == "small-cnn" else options


@register_tower("image-cnn", "image")
def image_cnn(embed_dim: int, encoder: str = "small-cnn", **options: object) -> EncoderTower:
    """An RGB image tower: ``uint8 [B, 3, H, W] -> [B, embed_dim]``."""
    return EncoderTower("image", embed_dim, encoder, 3, **_options(encoder, options))


@register_tower("depth-cnn", "depth")
def depth_cnn(embed_dim: int, encoder: str = "small-cnn", **options: object) -> EncoderTower:
    """A one-channel depth tower: ``float [B, 1, H, W] -> [B, embed_dim]``."""
    return EncoderTower("depth", embed_dim, encoder, 1, **_options(encoder, options))
