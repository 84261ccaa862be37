"""Colour adjustments of a batch with one factor per sample.

Each public function takes ``x: float32 Tensor[B, C, H, W]`` in ``[0, 1]`` and a ``Tensor[B]`` of
factors, and returns a new tensor clamped to ``[0, 1]`` (as torchvision's functional ops and
SimCLR's TensorFlow code do after each adjustment). Colour-only operations (saturation, hue,
grayscale) are the identity on one-channel images, which have no colour; they need ``C`` in
``{1, 3}``.

The underscore variants overwrite their input and return it; they exist for callers that own
it (colour jitter runs four of them back to back on slices of one working batch). They use only
float arithmetic on image-sized tensors: ``torch.where``, ``remainder`` and boolean masks are
several times slower on the CPU.
"""

from __future__ import annotations

import torch
from torch import Tensor

# ITU-R 601-2 luma, the weights of PIL's "L" conversion, torchvision and tf.image.
_LUMA = (0.299, 0.587, 0.114)


def check_colour_channels(channels: int, what: str) -> None:
    """Raise ``ValueError`` unless ``channels`` is 1 (gray) or 3 (RGB)."""
    if channels not in (1, 3):
        raise ValueError(f"{what} needs images with 1 or 3 channels, got C={channels}")


def _per_sample(factor: Tensor) -> Tensor:
    return factor.view(-1, 1, 1, 1)


def luma(x: Tensor) -> Tensor:
    """Gray level ``Tensor[B, 1, H, W]`` of an RGB batch (a new tensor; ``x`` itself if ``C == 1``)."""
    if x.shape[1] == 1:
        return x
    return torch.mul(x[:, 0:1], _LUMA[0]).add_(x[:, 1:2], alpha=_LUMA[1]).add_(x[:, 2:3], alpha=_LUMA[2])


def to_grayscale(x: Tensor) -> Tensor:
    """Replace every channel by the luma, keeping ``C`` (SimCLR's "colour drop")."""
    check_colour_channels(x.shape[1], "grayscale")
    return luma(x).expand_as(x).contiguous()


def _brightness_(x: Tensor, factor: Tensor) -> Tensor:
    return x.mul_(_per_sample(factor)).clamp_(0.0, 1.0)


def _contrast_(x: Tensor, factor: Tensor) -> Tensor:
    channel_means = x.mean(dim=(2, 3))
    if x.shape[1] == 3:
        # mean of the luma image, computed from the channel means without building it
        mean = channel_means @ torch.tensor(_LUMA, device=x.device, dtype=x.dtype)
    else:
        mean = channel_means.mean(dim=1)
    f = _per_sample(factor)
    return x.mul_(f).add_(_per_sample(mean) * (1.0 - f)).clamp_(0.0, 1.0)


def _saturation_(x: Tensor, factor: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    f = _per_sample(factor)
    gray = luma(x).mul_(1.0 - f)
    return x.mul_(f).add_(gray).clamp_(0.0, 1.0)


def _hue(x: Tensor, shift: Tensor, out: Tensor | None = None) -> Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    value = x.amax(dim=1, keepdim=True)
    minimum = x.amin(dim=1, keepdim=True)
    chroma = torch.sub(value, minimum)
    # Hue in sixths of a turn from the sector of the maximal channel, tested R, then G, then B as
    # colorsys does: (g - b)/c, 2 + (b - r)/c or 4 + (r - g)/c. With not_r = 0 where R is maximal
    # and 1 elsewhere (the sign of value - r), not_g likewise, and s = r + g + b, the three cases
    # are one expression: c * hue = (g - b) + not_r * ((3b + 2c - s) + not_g * (3r + 2c - s)).
    # Gray pixels have a zero numerator, hence hue 0. The result lies in [-1, 5]. (Float masks:
    # torch.ne and multiplying by its bool masks are several times slower on the CPU, as is
    # sum over the channel dim against two adds of the planes.)
    not_r = torch.sub(value, r).sign_()
    not_g = torch.sub(value, g).sign_()
    base = torch.add(r, g).add_(b).neg_().add_(chroma, alpha=2.0)
    hue = torch.add(base, r, alpha=3.0).mul_(not_g).add_(base).add_(b, alpha=3.0).mul_(not_r)
    hue.add_(g).sub_(b).div_(torch.clamp_min(chroma, 1e-12, out=not_g))
    # RGB from HSV: channel n (n = 5, 3, 1 for R, G, B) is value - chroma * ramp(k) with
    # k = (n + hue + shift) mod 6 and ramp(k) = clamp(2 - |k - 2|, 0, 1). Reducing n + shift
    # mod 6 per sample leaves k in [-1, 11), where the distance from k to the nearest point of
    # 2 + 6Z is d = ||k - 5| - 3|: the periodic ramp without an image-sized modulo. Since
    # 1 - ramp = clamp(d - 1, 0, 1), the channel is minimum + chroma * clamp(d - 1, 0, 1).
    offsets = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype)
    offsets = torch.remainder(offsets + 6.0 * shift.view(-1, 1), 6.0).sub_(5.0).view(-1, 3, 1, 1)
    # x's channels are no longer read below, so out may be x itself
    k = torch.add(hue, offsets, out=out)
    rise = k.abs_().sub_(3.0).abs_().sub_(1.0).clamp_(0.0, 1.0)
    return torch.addcmul(minimum, rise, chroma, out=rise).clamp_max_(1.0)


def _hue_(x: Tensor, shift: Tensor) -> Tensor:
    return x if x.shape[1] == 1 else _hue(x, shift, out=x)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Multiply each sample by its factor (SimCLR v2's multiplicative brightness)."""
    return _brightness_(x.clone(), factor)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Scale each sample's distance from its mean gray level by its factor (torchvision's rule).

    For ``C`` other than 3 the mean is over all channels.
    """
    return _contrast_(x.clone(), factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Scale each sample's distance from its own grayscale image by its factor."""
    check_colour_channels(x.shape[1], "saturation")
    return _saturation_(x.clone(), factor)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate each sample's HSV hue by its ``shift`` in turns (``[-0.5, 0.5]``), keeping S and V."""
    check_colour_channels(x.shape[1], "hue")
    return x.clone() if x.shape[1] == 1 else _hue(x, shift)
