"""Named augmentation policies with SimCLR's defaults, as data, and the factory that builds them.

SimCLR (Chen et al. 2020, Appendix A): random crop with resize (scale (0.08, 1), aspect
(3/4, 4/3)) and horizontal flip (p 0.5), colour distortion (jitter of strength s with p 0.8,
grayscale with p 0.2) and, on ImageNet, Gaussian blur (p 0.5). Appendix B.9 (CIFAR-10): the same
with s = 0.5 and no blur. The paper has no one-channel experiment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from simclip.augment.base import RandomOp
from simclip.augment.colour import check_colour_channels
from simclip.augment.compose import Compose
from simclip.augment.filters import GaussianBlur
from simclip.augment.geometric import RandomHorizontalFlip, RandomResizedCrop, RandomRotation
from simclip.augment.jitter import ColorJitter, RandomGrayscale
from simclip.augment.sampling import check_probability, check_range
from simclip.errors import UnknownNameError


@dataclass(frozen=True)
class PolicyConfig:
    """Settings of a SimCLR-style policy: crop -> rotation -> flip -> colour jitter -> grayscale -> blur.

    A probability or strength of 0 leaves its op out of the chain.

    Attributes:
        crop_scale: range of the crop's area as a fraction of the image.
        crop_ratio: range of the crop's aspect ratio (width / height).
        flip_p: probability of a horizontal flip.
        jitter_strength: SimCLR's colour distortion strength ``s`` (amplitudes 0.8s, 0.8s, 0.8s,
            0.2s for brightness, contrast, saturation, hue).
        jitter_p: probability of colour jitter.
        grayscale_p: probability of converting to grayscale.
        blur_p: probability of Gaussian blur (kernel 10% of the side).
        blur_sigma: range of the blur's sigma in pixels.
        rotation_p: probability of a small rotation (not in SimCLR's policies; off by default).
        rotation_degrees: the rotation's angle is uniform in [-rotation_degrees, rotation_degrees].
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_strength: float = 1.0
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    rotation_p: float = 0.0
    rotation_degrees: float = 15.0

    def __post_init__(self) -> None:
        # Tuples also arrive as lists from JSON configs; store them as tuples so equal configs
        # compare and print equal.
        for name in ("crop_scale", "crop_ratio", "blur_sigma"):
            object.__setattr__(self, name, check_range(getattr(self, name), name, low=0.0))
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "rotation_p"):
            check_probability(getattr(self, name), name)
        degrees = self.rotation_degrees
        if isinstance(degrees, bool) or not isinstance(degrees, (int, float)) or not 0.0 <= degrees <= 180.0:
            raise ValueError(f"rotation_degrees must be in [0, 180], got {self.rotation_degrees}")
        if not 0.0 <= self.jitter_strength <= 2.5:
            raise ValueError(f"jitter_strength must be in [0, 2.5], got {self.jitter_strength}")

    @property
    def uses_colour(self) -> bool:
        """Whether the chain has ops defined only for gray or RGB images."""
        return (self.jitter_strength > 0 and self.jitter_p > 0) or self.grayscale_p > 0


_POLICIES: dict[str, PolicyConfig] = {
    # ImageNet, Appendix A.
    "simclr": PolicyConfig(),
    # CIFAR-10, Appendix B.9: weaker colour distortion, no blur on 32x32 images.
    "simclr-cifar": PolicyConfig(jitter_strength=0.5, blur_p=0.0),
    # One-channel data (e.g. MNIST): crop and flip only. The paper's crop scale (0.08, 1) is kept;
    # on 28x28 digits its smallest crops are ~8x8 pixels, so crop_scale=(0.2, 1) is a reasonable
    # override there.
    "simclr-gray": PolicyConfig(jitter_strength=0.0, jitter_p=0.0, grayscale_p=0.0, blur_p=0.0),
    # CLIP on captions that name colours: mild crops (the object stays in view), flips and blur, no
    # colour op (a jitter would make "a red star" wrong). CLIP's own training used random crops only;
    # the blur lets the image tower read smooth images, e.g. a generator's, as it reads sharp ones.
    "clip-mild": PolicyConfig(crop_scale=(0.8, 1.0), jitter_strength=0.0, jitter_p=0.0, grayscale_p=0.0,
                              blur_p=0.5, blur_sigma=(0.1, 1.5)),
}


def list_policies() -> list[str]:
    """Names accepted by :func:`create_policy`, sorted."""
    return sorted(_POLICIES)


def policy_config(name: str, **overrides: Any) -> PolicyConfig:
    """The :class:`PolicyConfig` of a named policy, with fields replaced by ``overrides``.

    Raises:
        simclip.errors.UnknownNameError: unknown ``name`` (a ``ValueError``; the message lists the
            valid ones).
        TypeError: an override that is not a field of :class:`PolicyConfig`.
    """
    if name not in _POLICIES:
        raise UnknownNameError(f"unknown augmentation policy {name!r}; valid names: {', '.join(list_policies())}")
    fields = {f.name for f in dataclasses.fields(PolicyConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"unknown option(s) for policy {name!r}: {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
        )
    return dataclasses.replace(_POLICIES[name], **overrides)


def build_policy(config: PolicyConfig, size: int | None = None, channels: int = 3) -> Compose:
    """The op chain of ``config`` for ``channels``-channel images, producing ``size x size``.

    ``size=None`` keeps each input batch's spatial size.

    Raises:
        ValueError: ``size`` or ``channels`` is not a positive int, or the config has colour ops
            and ``channels`` is neither 1 nor 3. On one channel the colour ops reduce to
            brightness and contrast jitter (a gray image has no saturation or hue).
    """
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ValueError(f"size must be None or a positive int, got {size!r}")
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    if config.uses_colour:
        check_colour_channels(channels, "a policy with colour jitter or grayscale")
    ops: list[RandomOp] = [RandomResizedCrop(size, scale=config.crop_scale, ratio=config.crop_ratio)]
    if config.rotation_p > 0 and config.rotation_degrees > 0:
        ops.append(RandomRotation(config.rotation_degrees, p=config.rotation_p))
    if config.flip_p > 0:
        ops.append(RandomHorizontalFlip(config.flip_p))
    if config.jitter_strength > 0 and config.jitter_p > 0:
        ops.append(ColorJitter.from_strength(config.jitter_strength, p=config.jitter_p))
    if config.grayscale_p > 0:
        ops.append(RandomGrayscale(config.grayscale_p))
    if config.blur_p > 0:
        ops.append(GaussianBlur(sigma=config.blur_sigma, p=config.blur_p))
    return Compose(ops, size=size, channels=channels)


def create_policy(name: str, size: int | None = None, channels: int = 3, **overrides: Any) -> Compose:
    """Build a named policy (see :func:`list_policies`) for ``channels``-channel images.

    Args:
        name: ``"simclr"`` (ImageNet), ``"simclr-cifar"`` (s = 0.5, no blur) or ``"simclr-gray"``
            (crop and flip only).
        size: output side; views are ``[B, channels, size, size]``. ``None`` keeps the input's
            spatial size.
        channels: channels of the input images.
        **overrides: :class:`PolicyConfig` fields, e.g. ``crop_scale=(0.2, 1.0)``.

    Returns:
        A :class:`Compose` called as ``policy(x, generator=g)``.
    """
    return build_policy(policy_config(name, **overrides), size, channels)
