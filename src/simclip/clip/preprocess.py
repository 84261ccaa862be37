"""Image preprocessing that a CLIP checkpoint needs, from its :class:`PreprocessConfig`.

As OpenAI's CLIP: resize the shortest side to ``S`` (bicubic), centre-crop ``S x S``, convert to RGB
(or grey for one-channel models), scale to [0, 1], normalise per channel. ``resize_mode="squash"``
resizes both sides to ``S`` instead (no crop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from simclip.clip.config import PreprocessConfig

_MODES = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR,
          "nearest": InterpolationMode.NEAREST}
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's "L" conversion
_Img = TypeVar("_Img", torch.Tensor, Image.Image)


def _resize_and_crop(image: _Img, cfg: PreprocessConfig) -> _Img:
    size = cfg.image_size
    if cfg.resize_mode == "squash":
        squashed: _Img = TF.resize(image, [size, size], interpolation=_MODES[cfg.interpolation], antialias=True)
        return squashed
    image = TF.resize(image, size, interpolation=_MODES[cfg.interpolation], antialias=True)
    cropped: _Img = TF.center_crop(image, [size, size])
    return cropped


class ImagePreprocess:
    """``PIL.Image -> FloatTensor[C, S, S]``; :meth:`batch` stacks a list into ``[B, C, S, S]``."""

    def __init__(self, cfg: PreprocessConfig) -> None:
        if not isinstance(cfg, PreprocessConfig):
            raise TypeError(f"cfg must be a PreprocessConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.channels = len(cfg.mean)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if not isinstance(image, Image.Image):
            raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__} "
                            f"(use preprocess_tensor for tensors)")
        if self.channels not in (1, 3):
            raise ValueError(f"PIL images give 1 or 3 channels; the config has {self.channels}")
        image = _resize_and_crop(image, self.cfg)
        image = image.convert("L" if self.channels == 1 else "RGB")
        tensor: torch.Tensor = TF.normalize(TF.to_tensor(image), list(self.cfg.mean), list(self.cfg.std))
        return tensor

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self(im) for im in images])

    def __repr__(self) -> str:
        return f"ImagePreprocess({self.cfg})"


def preprocess_tensor(images: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Batched version for tensors: ``[B, C, H, W]`` (uint8 in [0, 255] or float in [0, 1]) ->
    ``[B, C', S, S]`` normalised float32. Grey is repeated to RGB and RGB turned into luma when the
    config wants the other; resizing is antialiased, so results are close to, not equal to, PIL's.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor [B, C, H, W], got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)}")
    want = len(cfg.mean)
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ValueError(f"images must be uint8 or floating point, got {images.dtype}")
    x = _resize_and_crop(images, cfg)  # uint8 stays uint8: rounded and clamped like PIL
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float().clamp(0.0, 1.0)
    x = _match_channels(x, want)
    mean = torch.tensor(cfg.mean, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(cfg.std, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def _match_channels(x: torch.Tensor, want: int) -> torch.Tensor:
    have = x.shape[1]
    if have == want:
        return x
    if have == 1 and want == 3:
        return x.expand(-1, 3, -1, -1)
    if have == 3 and want == 1:
        luma = torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)
        return (x * luma).sum(dim=1, keepdim=True)
    raise ValueError(f"images have {have} channels; the model expects {want}")
